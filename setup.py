from setuptools import find_packages, setup

setup(
    name="siamtrack",
    version="0.1.0",
    description="A fully-convolutional Siamese single-object tracker (SiamFC) in PyTorch",
    packages=find_packages(include=["siamtrack", "siamtrack.*"]),
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.1",
        "opencv-contrib-python>=4.8",
        "numpy>=1.24",
        "got10k>=0.1.3",
        "six",  # imported by got10k, not declared by it
        "tqdm",
        "PyYAML",
    ],
    extras_require={"onnx": ["onnx", "onnxruntime"]},
)
