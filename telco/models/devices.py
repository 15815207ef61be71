"""Customer equipment: phones and home routers/ONTs, with the state faults change and fixes restore."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from telco.models.common import Model

RadioTech = Literal["2G", "3G", "4G", "5G"]
# Oldest to newest: a later technology is faster, and the radio prefers the newest one it may use.
RADIO_RANK: tuple[RadioTech, ...] = ("2G", "3G", "4G", "5G")

# The "Preferred network type" menu of a handset and what each entry lets the radio use. "auto" is every
# technology the handset itself supports; the "only" entries lock the radio to one technology, which leaves the
# phone with no network at all where the operator has switched that technology off.
NetworkMode = Literal["auto", "4G/3G/2G", "3G/2G", "3G only", "2G only"]
NETWORK_MODE_TECHS: dict[str, tuple[RadioTech, ...]] = {
    "auto": ("2G", "3G", "4G", "5G"),
    "4G/3G/2G": ("2G", "3G", "4G"),
    "3G/2G": ("2G", "3G"),
    "3G only": ("3G",),
    "2G only": ("2G",),
}
# What a SIM asks for before it works: nothing, its PIN (after a restart), or its PUK (after three wrong PINs).
SimLock = Literal["none", "pin", "puk"]

# Worlds saved before these fields existed stored one `sim` state and a network-mode ceiling; they still load.
_LEGACY_SIM: dict[str, dict[str, Any]] = {
    "active": {},
    "missing": {"sim_seated": False},  # the old fault described a loose card, fixed by reseating it
    "pin_locked": {"sim_lock": "puk"},  # the old state meant "locked until the PUK is entered"
}
_LEGACY_MODES = {"5G": "auto", "4G": "4G/3G/2G", "3G": "3G/2G", "2G": "2G only"}

# The operator's correct access point settings; a phone whose APN differs cannot use data or MMS.
OPERATOR_APN = "internet.telco"
OPERATOR_MMSC = "http://mms.telco.example/mms"
# The operator's resolvers; in the sandbox any other resolver fails, which is how a wrong-DNS fault shows up.
OPERATOR_DNS = ("10.0.0.53", "10.0.1.53")


class ApnSettings(Model):
    apn: str = OPERATOR_APN
    mmsc_url: str = OPERATOR_MMSC


class Phone(Model):
    id: str
    model: str
    supports_5g: bool = True
    # The SIM: whether a card is in the tray at all, whether it makes contact, and what code it asks for. They are
    # independent: a PIN-locked card can also be loose, and reseating it does not unlock it.
    sim_present: bool = True
    sim_seated: bool = True
    sim_lock: SimLock = "none"
    airplane_mode: bool = False
    mobile_data: bool = True
    data_roaming: bool = False  # the handset's own roaming toggle
    preferred_network_mode: NetworkMode = "auto"
    apn: ApnSettings = ApnSettings()
    wifi: bool = True
    wifi_calling: bool = False
    # Some handsets route MMS over Wi-Fi calling, which this operator's MMS centre does not accept.
    wifi_calling_breaks_mms: bool = False
    data_saver: bool = False
    vpn: bool = False
    # Permissions granted to the default messaging app.
    messaging_permissions: list[Literal["sms", "storage", "contacts"]] = ["sms", "storage", "contacts"]
    abroad_country: str | None = None  # None while at home
    area_id: str | None = None  # current location (home network); None when abroad

    @model_validator(mode="before")
    @classmethod
    def _legacy_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not ("sim" in data or data.get("preferred_network_mode") in _LEGACY_MODES):
            return data
        data = dict(data)
        if "sim" in data:
            state = data.pop("sim")
            if state not in _LEGACY_SIM:
                raise ValueError(f"unknown legacy sim state {state!r}")
            data.update(_LEGACY_SIM[state])
        if data.get("preferred_network_mode") in _LEGACY_MODES:
            data["preferred_network_mode"] = _LEGACY_MODES[data["preferred_network_mode"]]
        return data

    def network_techs(self) -> tuple[RadioTech, ...]:
        """The technologies this handset's radio may use with its current network mode."""
        allowed = NETWORK_MODE_TECHS[self.preferred_network_mode]
        return tuple(t for t in allowed if t != "5G" or self.supports_5g)


class Router(Model):
    id: str
    model: str
    kind: Literal["ont", "dsl_modem", "cable_modem"]
    powered: bool = True
    temperature_c: float = 45.0
    ventilated: bool = True
    optical_power_dbm: float | None = None  # fiber only; healthy is above -27 dBm
    snr_db: float | None = None  # DSL only
    sync: Literal["up", "flapping", "down"] = "up"
    last_boot: datetime
    reboot_log: list[datetime] = []
    wifi_band: Literal["2.4GHz", "5GHz"] = "5GHz"
    wifi_channel: int = 36
    channel_interference: float = Field(default=0.1, ge=0, le=1)
    dns_servers: list[str] = list(OPERATOR_DNS)
    firmware: str = "3.2.1"
    latest_firmware: str = "3.2.1"

    @property
    def overheating(self) -> bool:
        return self.temperature_c >= 75.0
