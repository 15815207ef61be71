"""Customer equipment: phones and home routers/ONTs, with the state faults change and fixes restore."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from telco.models.common import Model

NetworkMode = Literal["2G", "3G", "4G", "5G"]

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
    sim: Literal["active", "missing", "pin_locked"] = "active"
    airplane_mode: bool = False
    mobile_data: bool = True
    data_roaming: bool = False  # the handset's own roaming toggle
    preferred_network_mode: NetworkMode = "5G"
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
