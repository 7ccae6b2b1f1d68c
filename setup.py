"""reviewcat: Spark/Glue ETL and training jobs that turn partitioned product reviews into a text classifier."""
import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# What `reviewcat aws deploy` uploads, kept at the top of the project and carried by the wheel
# inside the package (reviewcat/shipped/...), so an installed reviewcat deploys as a checkout does.
SHIPPED = ["infra/reviewcat.yaml", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "glue_jobs").glob("*.py"))]


class BuildWithDeployFiles(build_py):
    def run(self) -> None:
        super().run()
        for name in SHIPPED:
            target = Path(self.build_lib) / "reviewcat" / "shipped" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, target)


# Local training, evaluation and prediction. fasttext-wheel is upstream fastText 0.9.2 built as
# wheels; reviewcat.train.model works around its numpy 2 break in predict.
TRAIN = ["fasttext-wheel>=0.9.2,<0.10", "matplotlib>=3.8,<4", "tqdm>=4.66,<5", "PyYAML>=6,<7"]
# SageMaker BlazingText tuning and endpoints: the SDK's current major version.
AWS = ["boto3>=1.34,<2", "sagemaker>=3.27,<4"]
# Peak memory of the benchmarked process trees; the S3 section's server and client.
BENCH = ["psutil>=5.9,<8", "boto3>=1.34,<2", "moto[server]>=5.1,<6"]

setup(
    name="reviewcat",
    version="0.1.0",
    description="Balance, prepare and train a review-category classifier on Spark, AWS Glue and SageMaker",
    package_dir={"": "lib"},
    packages=find_packages("lib"),
    package_data={"reviewcat": ["data/*.csv", "data/*.properties", "data/*.java"]},
    python_requires=">=3.10",
    install_requires=[
        # Spark 3.5 is the AWS Glue 5 runtime, Spark 4.1 Glue 6's. `make` pins 3.5 in .venv and
        # tests the jobs on 4.1 in .venv-spark4; a plain `pip install` takes the newest, 4.1.
        "pyspark>=3.5.4,<4.2",
        "pyarrow>=14,<27",
        "pandas>=2.0,<3",
        "numpy>=1.26,<3",
        "nltk>=3.9,<4",
    ],
    extras_require={
        "train": TRAIN,
        "aws": AWS,
        "bench": TRAIN + BENCH,
        # The awsglue Python interface (no JVM side): the Glue branch is tested against its real API.
        # pytest-xdist: the suite runs on two workers, a test file each at a time (module fixtures
        # such as the standalone cluster are set up once).
        "test": ["pytest>=8,<10", "pytest-xdist>=3.6,<4", "AWSGlueDataplanePython>=5.0,<6", "moto[server]>=5.1,<6",
                 # The reference for the bias metrics: SageMaker Clarify's open-source core.
                 "smclarify>=0.5,<0.6",
                 # Executes the notebooks.
                 "nbclient>=0.10,<1", "nbformat>=5.10,<6", "ipykernel>=6.29,<8",
                 # Builds the wheel whose installed copy the deploy test runs.
                 "wheel>=0.42,<1"] + TRAIN + AWS + BENCH,
    },
    entry_points={"console_scripts": ["reviewcat=reviewcat.cli:main"]},
    cmdclass={"build_py": BuildWithDeployFiles},
)
