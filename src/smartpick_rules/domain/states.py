"""US states and territories: the codes ``state`` fields hold, and what people write instead.

A catalog or profile may say ``TX``, ``tx``, `` TX`` or ``Texas``; rules compare with the code
(``item.state == program.state``, ``program.state == "CA"``), so every ``state`` field is
normalised to the two-letter USPS code when it is read, and anything that is not a US state or
territory is refused with a suggestion, instead of silently never matching.
"""

from __future__ import annotations

import re

from ..errors import did_you_mean

__all__ = ["US_STATES", "normalise_state"]

#: USPS code -> name: the 50 states, the District of Columbia and the territories with
#: residency programs or US clinical sites
US_STATES: dict[str, str] = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "DC": "District of Columbia",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "PR": "Puerto Rico",
    "GU": "Guam",
    "VI": "U.S. Virgin Islands",
    "AS": "American Samoa",
    "MP": "Northern Mariana Islands",
}

_ALIASES = {
    "washington dc": "DC",
    "washington d c": "DC",
    "d c": "DC",
    "virgin islands": "VI",
    "us virgin islands": "VI",
    "u s virgin islands": "VI",
}


def _key(text: str) -> str:
    # "Washington, D.C." -> "washington d c"; "new  york" -> "new york"
    return " ".join(re.sub(r"[.,]", " ", text).split()).casefold()


_BY_KEY: dict[str, str] = {
    **{code.casefold(): code for code in US_STATES},
    **{_key(name): code for code, name in US_STATES.items()},
    **_ALIASES,
}


def normalise_state(value: str) -> str:
    """The USPS code for a state written as a code or a name, in any case; ``ValueError`` otherwise."""
    code = _BY_KEY.get(_key(value))
    if code is not None:
        return code
    hint = did_you_mean(value.strip(), [*US_STATES, *US_STATES.values()])
    shown = value if len(value) <= 40 else value[:37] + "..."
    message = f"`{shown}` is not a US state or territory; write its two-letter code (CA) or its name (California)"
    if hint:
        message += f" (did you mean `{US_STATES.get(hint, hint)}`?)"
    raise ValueError(message)
