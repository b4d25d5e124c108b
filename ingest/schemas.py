"""What ingest hands to the alert engine after a commit: the readings that were newly stored
(duplicates excluded), as columns, so that the engine need not read back what was just written."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True, kw_only=True)
class CommittedReadings:
    pending_evaluation_id: int
    """Row in ``pending_evaluations`` written by the same ingest transaction; the alert
    evaluation deletes it when it commits."""
    patient_id: npt.NDArray[np.int64]
    type_index: npt.NDArray[np.int16]
    """Index into ``core.measurement_types.TYPE_BY_INDEX``."""
    measured_at: npt.NDArray[np.datetime64]
    """``datetime64[us]``, UTC."""
    value: npt.NDArray[np.float64]
    late: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.patient_id.shape[0])
