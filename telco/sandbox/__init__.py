"""The simulated OSS/BSS: state, faults, observations and customer steps behind the operator port."""
