"""The aspects of a loop that rtloop scores separately, in the order they are reported."""

from __future__ import annotations

# rhythm, harmony, timbre and integrity come from the loop descriptors; sound is the HTS-AT latent
ASPECTS = ("rhythm", "harmony", "timbre", "integrity", "sound")
