"""A customer's services: mobile lines with their phones, and broadband with its router and access port."""
from __future__ import annotations

from datetime import timedelta

from telco.models import OPERATOR_APN, OPERATOR_MMSC, BroadbandPlan, MobilePlan, Router
from telco.sandbox.generator_parts.network import NetworkBuilder
from telco.sandbox.generator_parts.records import _apn, _broadband, _line, _phone, _router
from telco.sandbox.integrity import ROUTER_KIND_FOR

_OPERATOR_DNS = tuple(Router.model_fields["dns_servers"].default)
_MESSAGING_PERMISSIONS = ("sms", "storage", "contacts")


class ServiceBuilder(NetworkBuilder):
    def _make_line(self, cid, area, number, schedule, suspended_since, services, extras) -> None:
        rng, sh = self.rng, self.p.shares
        r = rng.random
        model = self._pick(rng, self.phone_models)
        plan: MobilePlan = self._pick(rng, self.mobile_any if model.supports_5g else self.mobile_4g)
        roaming = plan.roaming_included or r() < sh.roaming_enabled
        abroad = rng.choice(self.p.travel_countries) if roaming and r() < sh.abroad_now else None
        # Usage grows through the cycle; healthy lines stay under their allowance.
        days_in = (self.today - schedule[-1][0]).days
        limit = plan.data_limit_gb
        used = min(limit * min(1.0, days_in / 30) * rng.uniform(0.15, 1.5), limit * 0.97)
        refuelled = float(rng.choice((1, 2, 3, 5))) if r() < sh.refuelled_this_cycle else 0.0
        soon = r() < sh.contract_ending_soon
        contract_end = self.today + timedelta(days=rng.randint(1, 30) if soon else rng.randint(31, 730))

        phone_id = self._id("PH")
        self.phones[phone_id] = _phone(
            id=phone_id,
            model=model.model,
            supports_5g=model.supports_5g,
            sim_present=True,
            sim_seated=True,
            sim_lock="none",
            airplane_mode=False,
            mobile_data=True,
            data_roaming=abroad is not None,
            preferred_network_mode="auto",
            apn=_apn(apn=OPERATOR_APN, mmsc_url=OPERATOR_MMSC),
            wifi=True,
            wifi_calling=r() < sh.wifi_calling,
            wifi_calling_breaks_mms=False,
            data_saver=False,
            vpn=False,
            messaging_permissions=list(_MESSAGING_PERMISSIONS),
            abroad_country=abroad,
            area_id=None if abroad else area.id,
        )
        line_id = self._id("L")
        self.lines[line_id] = _line(
            id=line_id,
            number=number,
            customer_id=cid,
            plan_id=plan.id,
            status="suspended" if suspended_since else "active",
            device_id=phone_id,
            data_used_gb=round(used, 2),
            data_refuelled_gb=refuelled,
            roaming_enabled=roaming,
            contract_end=contract_end,
            suspension_reason="overdue_bill" if suspended_since else None,
            suspended_since=suspended_since,
        )
        services.append((line_id, f"{plan.name} - line {number}", plan.monthly_price))
        # Occasional past charges: data refuels and, for roaming not included in the plan, roaming usage.
        for k in range(len(self.periods) - 1):
            if r() < sh.refuel_on_past_bill:
                gb = rng.choice((1, 2, 3, 5))
                extras[k].append((line_id, "refuel", f"Data refuel {gb} GB", plan.refuel_price_per_gb * gb))
            if roaming and not plan.roaming_included and r() < sh.roaming_charge_on_past_bill:
                extras[k].append((line_id, "roaming", "Roaming data", rng.choice(self.roaming_charges)))

    def _make_broadband(self, cid, area, options, services) -> None:
        rng, healthy = self.rng, self.p.healthy
        tech, plans = self._pick(rng, options)
        plan: BroadbandPlan = self._pick(rng, plans)
        node_id, port = self._port(area, tech)
        kind = ROUTER_KIND_FOR[tech]
        spec = self.p.router_models[kind]
        band = "2.4GHz" if rng.random() < self.p.shares.wifi_24ghz else "5GHz"
        last_boot = self.clock - timedelta(minutes=rng.randint(60, 40 * 24 * 60))
        router_id = self._id("RT")
        self.routers[router_id] = _router(
            id=router_id,
            model=rng.choice(spec.models),
            kind=kind,
            powered=True,
            temperature_c=round(rng.uniform(*healthy.temperature_c), 1),
            ventilated=True,
            optical_power_dbm=round(rng.uniform(*healthy.optical_power_dbm), 1) if tech == "fiber" else None,
            snr_db=round(rng.uniform(*healthy.snr_db), 1) if tech == "dsl" else None,
            sync="up",
            last_boot=last_boot,
            reboot_log=[last_boot],
            wifi_band=band,
            wifi_channel=rng.choice(self.p.wifi_channels[band]),
            channel_interference=round(rng.uniform(*healthy.channel_interference), 2),
            dns_servers=list(_OPERATOR_DNS),
            firmware=spec.previous_firmware if rng.random() < self.p.shares.firmware_outdated else spec.firmware,
            latest_firmware=spec.firmware,
        )
        service_id = self._id("BB")
        self.broadband[service_id] = _broadband(
            id=service_id,
            customer_id=cid,
            plan_id=plan.id,
            technology=tech,
            access_node_id=node_id,
            port=port,
            router_id=router_id,
            area_id=area.id,
            status="active",
            profile="fast",
            port_state="ok",
            dns_override=False,
        )
        services.append((service_id, f"{plan.name} broadband - {service_id}", plan.monthly_price))
