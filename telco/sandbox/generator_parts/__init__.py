"""The pieces telco/sandbox/generator.py assembles a synthetic world from, one builder job per module.

records: fast construction of already-typed records; base: builder state, ids, numbers and the catalogues
prepared once; network: areas, cells, access nodes and ports; services: mobile lines with phones, broadband
with routers; billing: bills and payment links; customers: one customer with everything they hold.
Each builder class extends the ones whose methods it calls, so the dependencies between jobs stay visible.
The draw order of the one shared random.Random is what makes a seed reproducible: these classes only move
code, never reorder draws.
"""
