"""The aspects of a loop that rtloop scores separately, in the order they are reported."""

from __future__ import annotations

SOUND = "sound"  # the HTS-AT latent's detector: known only once the network has answered
# rhythm, harmony, timbre and integrity come from the loop descriptors (milliseconds to score)
ASPECTS = ("rhythm", "harmony", "timbre", "integrity", SOUND)
