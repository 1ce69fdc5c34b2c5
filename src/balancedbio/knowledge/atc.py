"""Names of ATC classes (WHO Anatomical Therapeutic Chemical classification), for the ``atc`` entities.

No installed package ships the ATC index, so the names are written out here: all 14 first-level groups,
and the second-level groups the toy graph uses. drug2cell gives codes only; a level-2 code without a name
here is named by its code ("ATC N05").
"""

from __future__ import annotations

ATC_NAMES = {
    "A": "alimentary tract and metabolism", "B": "blood and blood forming organs", "C": "cardiovascular system",
    "D": "dermatologicals", "G": "genito urinary system and sex hormones",
    "H": "systemic hormonal preparations, excluding sex hormones and insulins",
    "J": "antiinfectives for systemic use", "L": "antineoplastic and immunomodulating agents",
    "M": "musculo-skeletal system", "N": "nervous system", "P": "antiparasitic products, insecticides and repellents",
    "R": "respiratory system", "S": "sensory organs", "V": "various",
    "A16": "other alimentary tract and metabolism products", "B01": "antithrombotic agents",
    "B02": "antihemorrhagics", "B06": "other hematological agents", "C03": "diuretics",
    "C07": "beta blocking agents", "C09": "agents acting on the renin-angiotensin system",
    "C10": "lipid modifying agents", "L01": "antineoplastic agents", "L04": "immunosuppressants",
    "N07": "other nervous system drugs", "R07": "other respiratory system products",
}


def atc_name(code: str) -> str:
    """``"L01"`` -> ``"antineoplastic agents"``; a code without a name here -> ``"ATC <code>"``."""
    return ATC_NAMES.get(code, f"ATC {code}")
