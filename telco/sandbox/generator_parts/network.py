"""Areas, their mobile cells and the access nodes whose ports broadband services take."""
from __future__ import annotations

import math

from telco.models import AccessNode, Area, Cell
from telco.sandbox.generator_parts.base import BuilderBase, _slug, _weighted
from telco.sandbox.generator_profile import AreaProfile

NODE_PREFIX = {"fiber": "OLT", "dsl": "DSLAM", "cable": "CMTS"}
# Areas that got 5G have had 2G switched off to reuse its spectrum; areas still on 4G keep 2G for coverage.
_RADIO_5G = ("3G", "4G", "5G")
_RADIO_4G = ("2G", "3G", "4G")


class NetworkBuilder(BuilderBase):
    def _make_areas(self) -> None:
        p, rng = self.p, self.rng
        count = max(p.min_areas, round(self.n_customers / p.customers_per_area))
        profiles = _weighted([(a, a.weight) for a in p.area_profiles])
        names = p.area_names
        for i in range(count):
            profile: AreaProfile = p.area_profiles[i] if i < len(p.area_profiles) else self._pick(rng, profiles)
            base = names[i % len(names)]
            name = base if i < len(names) else f"{base} {i // len(names) + 1}"
            letters = "".join(ch for ch in _slug(base).upper() if ch.isalpha())[:2]
            low, high = profile.dsl_max_mbps
            # Draws in this order (dsl, cable, 5G) so a seed keeps producing the same areas.
            dsl_max_mbps = rng.randint(low, high)
            cable = rng.random() < profile.cable
            five_g = rng.random() < profile.five_g
            area = Area(
                id=self._id("A"),
                name=name,
                postcode_prefix=f"{letters}{i + 1}",
                fiber=profile.fiber,
                dsl_max_mbps=dsl_max_mbps,
                cable=cable,
                five_g=five_g,
                radio=list(_RADIO_5G if five_g else _RADIO_4G),
            )
            self.areas[area.id] = area
            self.population[area.id] = 0
        self.area_table = _weighted([(a, rng.uniform(0.5, 1.5)) for a in self.areas.values()])

    def _make_cells(self) -> None:
        rng, low_high = self.rng, self.p.healthy.cell_load
        for area in self.areas.values():
            count = max(2, math.ceil(self.population[area.id] / self.p.customers_per_cell))
            for k in range(count):
                # Every other cell of a 5G area has dropped 3G as well; the area still runs it on the others.
                techs = list(area.radio) if k % 2 == 0 or not area.five_g else ["4G", "5G"]
                cell = Cell(id=self._id("CELL"), area_id=area.id, technologies=techs, load=round(rng.uniform(*low_high), 2))
                self.cells[cell.id] = cell

    def _port(self, area: Area, tech: str) -> tuple[str, str]:
        """Next free port in the area for a technology, opening a new access node when the current one is full."""
        key = (area.id, tech)
        state = self._open_node.get(key)
        if state is None or state[1] >= self.p.node_capacity[tech]:
            node = AccessNode(
                id=self._id(NODE_PREFIX[tech]),
                area_id=area.id,
                technology=tech,
                load=round(self.rng.uniform(*self.p.healthy.node_load), 2),
            )
            self.nodes[node.id] = node
            state = self._open_node[key] = [node.id, 0]
        used = state[1]
        state[1] = used + 1
        return state[0], f"{used // 32 + 1}/{used % 32 + 1}"
