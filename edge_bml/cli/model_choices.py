"""How the commands say which model variants ran and why they were chosen."""

from __future__ import annotations

from edge_bml.machine import current_machine
from edge_bml.model_registry import VariantChoice


def choices_json(choices: dict[str, VariantChoice]) -> dict[str, dict]:
    """``{task: {"variant", "chosen_by", "why"}}`` for the ``--json`` output and the server."""
    return {task: choice.to_json() for task, choice in choices.items()}


def choices_lines(choices: dict[str, VariantChoice]) -> list[str]:
    """Two lines for people: the variants, then on what grounds ``auto`` chose them."""
    names = ", ".join(f"{task} {choice.manifest.name}" for task, choice in choices.items())
    bases = {choice.basis for choice in choices.values()}
    if "shipped" in bases:
        grounds = (
            f"picked by latencies measured on another CPU, not this {current_machine().describe()}; "
            "run `edge-bml bench` to pick by this machine's own"
        )
    elif "profile" in bases:
        profile = next(c for c in choices.values() if c.basis == "profile")
        grounds = f"picked by this machine's latency profile: {profile.why.split(' by ', 1)[-1]}"
    else:
        grounds = "as requested (one variant fits each choice)"
    return [f"models: {names}", f"chosen: {grounds}"]
