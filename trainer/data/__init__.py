"""Training data: the dataset format, frame pairs, hole-inpainting samples and real-video ingestion."""

from trainer.data.dataset_format import (
    DatasetError,
    VideoRecord,
    VideoWriter,
    read_dataset,
    write_manifest,
    write_video,
)

__all__ = ["DatasetError", "VideoRecord", "VideoWriter", "read_dataset", "write_manifest", "write_video"]
