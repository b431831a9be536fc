"""AAMI heartbeat classes, the MIT-BIH symbol map and the inter-patient record lists.

References
----------
- ANSI/AAMI EC57:2012, "Testing and reporting performance results of cardiac rhythm and
  ST segment measurement algorithms" (the five beat classes N, S, V, F, Q).
- de Chazal P, O'Dwyer M, Reilly RB. "Automatic classification of heartbeats using ECG
  morphology and heartbeat interval features." IEEE Trans Biomed Eng 51(7):1196-1206, 2004
  (the DS1 / DS2 inter-patient split; paced records excluded).
- Kachuee M, Fazeli S, Sarrafzadeh M. "ECG Heartbeat Classification: A Deep Transferable
  Representation." IEEE ICHI 2018 (the Kaggle "ECG Heartbeat Categorization" beats).
"""

from __future__ import annotations

#: The five AAMI classes in the order of the Kaggle label column (0..4).
CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")

CLASS_NAMES: dict[str, str] = {
    "N": "Normal",
    "S": "Supraventricular ectopic",
    "V": "Ventricular ectopic",
    "F": "Fusion",
    "Q": "Unknown / paced",
}

#: MIT-BIH beat annotation symbol -> AAMI class. Symbols not listed (rhythm changes '+',
#: noise '~', '|', '"', 'x', '!', '[', ']' ...) are not beats and are dropped.
SYMBOL_TO_CLASS: dict[str, str] = {
    # N: normal, bundle branch blocks, escape beats
    "N": "N", "L": "N", "R": "N", "e": "N", "j": "N",
    # S: supraventricular ectopic
    "A": "S", "a": "S", "J": "S", "S": "S",
    # V: ventricular ectopic
    "V": "V", "E": "V",
    # F: fusion of ventricular and normal
    "F": "F",
    # Q: paced, fusion of paced and normal, unclassifiable
    "/": "Q", "f": "Q", "Q": "Q",
}

#: Labels of the PTB Diagnostic ECG Database files of the same Kaggle data set.
PTB_CLASSES: tuple[str, ...] = ("normal", "abnormal")

#: All 48 MIT-BIH Arrhythmia Database records.
MITDB_RECORDS: tuple[str, ...] = (
    "100", "101", "102", "103", "104", "105", "106", "107", "108", "109",
    "111", "112", "113", "114", "115", "116", "117", "118", "119", "121",
    "122", "123", "124", "200", "201", "202", "203", "205", "207", "208",
    "209", "210", "212", "213", "214", "215", "217", "219", "220", "221",
    "222", "223", "228", "230", "231", "232", "233", "234",
)

#: Records with paced rhythm (excluded from inter-patient evaluation, AAMI EC57).
PACED_RECORDS: tuple[str, ...] = ("102", "104", "107", "217")

#: de Chazal et al. 2004 training set (DS1).
DS1: tuple[str, ...] = (
    "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122",
    "124", "201", "203", "205", "207", "208", "209", "215", "220", "223", "230",
)

#: de Chazal et al. 2004 test set (DS2).
DS2: tuple[str, ...] = (
    "100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210",
    "212", "213", "214", "219", "221", "222", "228", "231", "232", "233", "234",
)


def class_index(label: str, classes: tuple[str, ...] = CLASSES) -> int:
    """Index of a class letter in ``classes``; ``ValueError`` names the choices."""
    try:
        return classes.index(label)
    except ValueError:
        raise ValueError(f"unknown class {label!r}; choose from {', '.join(classes)}") from None
