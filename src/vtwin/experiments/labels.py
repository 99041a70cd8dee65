"""How methods are named for readers: the one map from internal method ids to paper labels.

Experiments, run folders, CSV and JSON files keep the internal ids (``cnn_lstm``,
``dm_mappo``, ``su_hatd3``), so stored runs stay valid and ``--methods`` keeps working. Every
place a person reads a method name — figure legends and tick labels, the summary and claims
tables of ``REPORT.md`` / ``REPORT.html``, the console's claims table — shows the label the
papers print instead (``CNN-LSTM``, ``DM-MAPPO``, ``SU-HATD3``), through :func:`method_label`
for a single id and :func:`relabel_text` for computed text that mentions ids
(``"geo_i -3.118, nearest -3.4"``).

An id without an entry is shown as it is. ``tests/experiments/test_labels.py`` checks that
every method of every registered experiment has one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["METHOD_LABELS", "method_label", "relabel_text"]

METHOD_LABELS: Mapping[str, str] = MappingProxyType(
    {
        # paper A: the diffusion agent and PPO, with (`_uav`) or without UAV assistance;
        # the UAV planners of Figs. 5–7
        "dsac": "Diffusion SAC",
        "dsac_uav": "Diffusion SAC + UAV",
        "ppo": "PPO",
        "ppo_uav": "PPO + UAV",
        "random_uav": "Random + UAV",
        "greedy_uav": "Greedy + UAV",
        "durp": "DURP",
        "greedy": "Greedy",
        "random_walk": "Random walk",
        "patrol": "Patrol",
        "hover": "Hover",
        # paper B: routing learners, their variants and rules (Figs. 6–11)
        "dm_mappo": "DM-MAPPO",
        "dm_mappo_last": "DM-MAPPO (last value)",
        "dm_mappo_no_uav": "DM-MAPPO w/o UAVs",
        "dm_mappo_no_sat": "DM-MAPPO w/o satellite",
        "mappo": "MAPPO",
        "masac": "MASAC",
        "masac_last": "MASAC (last value)",
        "masac_nomask": "MASAC w/o mask",
        "greedy_nomask": "Greedy w/o mask",
        "greedy_feasible": "Greedy (feasible)",
        "random": "Random",
        # paper B: the forecasters of Table II and Fig. 5
        "lstm_transformer": "LSTM-Transformer",
        "cnn_gru": "CNN-GRU",
        "cnn_lstm": "CNN-LSTM",
        "lstm": "LSTM",
        "gru": "GRU",
        "last_value": "Last value",
        # paper C: hybrid-action learners and privacy rules (Figs. 4–8)
        "lhdppo": "LHDPPO",
        "hdppo": "HDPPO",
        "h_ppo": "H-PPO",
        "hppo": "H-PPO",
        "h_ppo_eq19": "H-PPO (eq. 19 state)",
        "ghppo": "GHPPO",
        "hgdm": "HGDM",
        "ppo_relaxed": "PPO-relaxed",
        "geo_i": "Geo-I",
        "max_radius": "Max-radius",
        "nearest": "Nearest (no privacy)",
        # paper D: the TD3 family and the references (Figs. 3–6)
        "su_hatd3": "SU-HATD3",
        "haddpg": "HADDPG",
        "matd3": "MATD3",
        "maddpg": "MADDPG",
        "rule": "Rule",
        "greedy_steps": "Greedy steps",
    }
)
"""Internal method id → the label a reader sees (as the papers print it where they do)."""


# One alternation, longest id first, so ``h_ppo_eq19`` wins over ``h_ppo``; an id counts only
# as a whole token (not inside ``dm_mappo_last`` or ``PPO-relaxed``), and the match is
# case-sensitive, so labels already in the text ("PPO") are left alone. Ids that are plain
# English words (``random``, ``rule``, ``nearest``) also occur as words in computed text
# ("to its nearest sensors"), so an id made only of letters is not replaced when a word
# follows it.
def _alternation(ids: list[str]) -> str:
    return "|".join(re.escape(k) for k in sorted(ids, key=len, reverse=True))


_COMPOUND = [k for k in METHOD_LABELS if not k.isalpha()]
_WORDS = [k for k in METHOD_LABELS if k.isalpha()]
_ID_PATTERN = re.compile(
    r"(?<![\w-])"  # not inside a longer token
    rf"(?:({_alternation(_COMPOUND)})|({_alternation(_WORDS)})(?!\s+[A-Za-z]))"
    r"(?![\w'’-])"
)


def method_label(method: str) -> str:
    """The reader's label of a method id (the id itself when it has none)."""
    return METHOD_LABELS.get(method, method)


def relabel_text(text: str) -> str:
    """``text`` with every whole-token method id replaced by its label (one pass)."""
    return _ID_PATTERN.sub(lambda m: METHOD_LABELS[m.group(1) or m.group(2)], text)
