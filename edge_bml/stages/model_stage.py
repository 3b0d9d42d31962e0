"""Shared base of stages that run one model variant: loading, output roles, closing."""

from __future__ import annotations

import numpy as np

from edge_bml.backends import Backend
from edge_bml.errors import ManifestError
from edge_bml.manifest import ModelManifest
from edge_bml.model_registry import LoadedModel, VariantChoice, choose_variant, load_model
from edge_bml.runtime_choice import RuntimeChoice


class ModelStage:
    """One model: ``preprocess -> infer -> postprocess``; the manifest says how."""

    task: str = ""

    def __init__(
        self,
        manifest: ModelManifest,
        *,
        threads: int | None = None,
        loaded_backend: Backend | None = None,
        batch: int | None = None,
    ) -> None:
        """Load ``manifest``'s model file on its backend, or run ``loaded_backend`` instead.

        ``batch``: open the model for inputs of that many images (see ``open_backend``).

        ``loaded_backend`` is an already opened ``Backend`` (the tests' fake one) that this stage then owns
        and closes; the manifest still says how inputs are made and outputs read. Its checksums are not
        checked then, as no model file is read.

        Raises:
            ManifestError: a manifest of another task, or outputs the model does not have.
            ModelNotFoundError, ChecksumMismatchError, BackendUnavailableError, ModelLoadError: loading failed.
        """
        if manifest.task != self.task:
            raise ManifestError(f"{manifest.name} is a {manifest.task} model, not {self.task}")
        if loaded_backend is None:
            self.model: LoadedModel = load_model(manifest, threads=threads, batch=batch)
        else:
            self.model = LoadedModel(manifest=manifest, backend=loaded_backend)
        self.manifest = manifest
        # Why this variant runs; ``create_from_options`` replaces it with the registry's reasons.
        self.choice = VariantChoice(manifest, "given", "named by the caller")
        spec = self.model.backend.inputs[0]
        self._input_name = manifest.input.name or spec.name
        names = {s.name for s in self.model.backend.outputs}
        missing = {role: name for role, name in manifest.outputs.items() if name not in names}
        if missing:
            self.model.backend.close()  # the stage never comes to be: nothing else would close it
            raise ManifestError(f"{manifest.name}: outputs {missing} not in the model's outputs {sorted(names)}")

    @classmethod
    def create_from_choice(cls, runtime: RuntimeChoice | None = None, **stage_options) -> ModelStage:
        """Pick the variant for this stage's task by ``runtime`` (see ``choose_variant``) and load it.

        Raises:
            ModelNotFoundError: no installed variant matches.
        """
        runtime = runtime or RuntimeChoice()
        choice = choose_variant(cls.task, **runtime.variant_query)
        stage = cls(choice.manifest, threads=runtime.threads, **stage_options)
        stage.choice = choice
        return stage

    @classmethod
    def create_from_options(
        cls, *, backend: str = "auto", precision: str = "auto", threads: int | None = None
    ) -> ModelStage:
        """``create_from_choice(RuntimeChoice(backend, precision, threads))``.

        Raises:
            ModelNotFoundError: no installed variant matches.
        """
        return cls.create_from_choice(RuntimeChoice(backend, precision, threads))

    def require_output_values(self, role: str, values: int, *, at_least: bool = False) -> None:
        """Refuse a model whose ``role`` output does not hold ``values`` numbers per image (the decoder's
        reading of it), where the runtime states the shape; the stage then closes its backend.

        Raises:
            ManifestError: the output holds another number of values than the manifest's decoder reads.
        """
        spec = {s.name: s for s in self.model.backend.outputs}[self.manifest.outputs[role]]
        dims = spec.shape[1:]
        if not dims or any(d <= 0 for d in dims):
            return  # dynamic: checked when it runs
        size = int(np.prod(dims))
        if size < values or (size != values and not at_least):
            self.model.backend.close()
            wanted = f"at least {values}" if at_least else str(values)
            raise ManifestError(
                f"{self.manifest.name}: output {role!r} has shape {spec.shape}, {size} values per image; the "
                f"manifest's decoder reads {wanted}: the model file and its manifest do not belong together"
            )

    def infer(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """Run the model on a preprocessed tensor; outputs keyed by role (manifest ``outputs``)."""
        raw = self.model.backend.run({self._input_name: tensor})
        return {role: raw[name] for role, name in self.manifest.outputs.items()}

    def close(self) -> None:
        self.model.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
