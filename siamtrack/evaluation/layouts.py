"""The benchmark datasets by name: versions and folder layouts (no imports, so that the CLI's
argument parser can list them without loading the got10k toolkit and matplotlib)."""
from __future__ import annotations

# (default version, accepted versions or None for any) per dataset name.
VERSIONS: dict[str, tuple[str | None, tuple[str, ...] | None]] = {
    "otb": ("2015", ("2013", "2015", "tb50", "tb100")),
    "vot": ("2018", ("2013", "2014", "2015", "2016", "2017", "2018", "2019", "LT2018", "LT2019")),
    "got10k": ("val", ("val",)),
    "uav123": ("UAV123", ("UAV123", "UAV20L")),
    "dtb70": (None, None),
    "nfs": ("30", ("30", "240")),
    "tcolor128": (None, None),
    "lasot": ("test", ("test", "train")),
    "folder": (None, None),
}
DATASETS = tuple(VERSIONS)
LAYOUTS = {
    "otb": "ROOT/<Seq>/img/0001.jpg + ROOT/<Seq>/groundtruth_rect.txt",
    "vot": "ROOT/list.txt + ROOT/<seq>/00000001.jpg + ROOT/<seq>/groundtruth.txt",
    "got10k": "ROOT/val/list.txt + ROOT/val/<seq>/00000001.jpg + groundtruth.txt (ROOT holds val/)",
    "uav123": "ROOT/anno/UAV123/<seq>.txt + ROOT/data_seq/UAV123/<folder>/000001.jpg",
    "dtb70": "ROOT/<seq>/img/00001.jpg + ROOT/<seq>/groundtruth_rect.txt",
    "nfs": "ROOT/<seq>/30/<seq>.txt + ROOT/<seq>/30/<seq>/00001.jpg",
    "tcolor128": "ROOT/<seq>/img/0001.jpg + <seq>_gt.txt + <seq>_frames.txt",
    "lasot": "ROOT/<class>/<class-N>/img/00000001.jpg + groundtruth.txt",
    "folder": "ROOT/<seq>/img/*.jpg + groundtruth_rect.txt, or ROOT/<seq>/*.jpg + groundtruth.txt",
}
