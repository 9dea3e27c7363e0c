"""The example sample set: one list that every generator and the registry draw from.

Coin cells LiNiO2 || graphite in three electrolyte series (no LiTDI, dried LiTDI,
non-dried LiTDI) from two providers, two cells each, aged to 80 % SoH by cycling; plus
one operando cell measured at ILL D2B and one at SOLEIL ROCK.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

SERIES = {
    "REF": "no LiTDI",
    "LTD": "dried LiTDI",
    "LTW": "non-dried LiTDI",
}
PROVIDERS = {
    "A": {"name": "ProviderA", "timezone": "Europe/Berlin", "batch": "A-2023-01"},
    "B": {"name": "ProviderB", "timezone": "Europe/Oslo", "batch": "B-2023-02"},
}
CELLS_PER_GROUP = 2


@dataclass(frozen=True)
class Sample:
    sample_id: str
    provider: str
    batch: str
    series: str
    chemistry: str
    active_mass_mg: float
    timezone: str
    role: str  # "ageing", "d2b_operando" or "xas_operando"


def ageing_cells() -> list[Sample]:
    cells = []
    for s_code, series in SERIES.items():
        for p_code, prov in PROVIDERS.items():
            for n in range(1, CELLS_PER_GROUP + 1):
                # active masses 9.6-10.6 mg, fixed per cell so the set is reproducible
                mass = round(9.6 + 0.25 * n + 0.2 * (p_code == "B") + 0.1 * list(SERIES).index(s_code), 2)
                cells.append(Sample(
                    sample_id=f"LNO-{s_code}-{p_code}-{n:02d}", provider=prov["name"], batch=prov["batch"],
                    series=series, chemistry="LiNiO2||graphite", active_mass_mg=mass,
                    timezone=prov["timezone"], role="ageing",
                ))
    return cells


def operando_cells() -> list[Sample]:
    return [
        Sample("LNO-OPD2B-01", "ProviderA", "A-2023-01", "no LiTDI", "LiNiO2||graphite", 30.0, "Europe/Paris", "d2b_operando"),
        Sample("LNO-OPXAS-01", "ProviderA", "A-2023-01", "no LiTDI", "LiNiO2||Li", 8.0, "Europe/Paris", "xas_operando"),
    ]


def all_samples() -> list[Sample]:
    return ageing_cells() + operando_cells()


def as_rows() -> list[dict]:
    return [asdict(s) for s in all_samples()]
