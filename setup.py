"""reviewcat: Spark/Glue ETL and training jobs that turn partitioned product reviews into a text classifier."""
from setuptools import find_packages, setup

setup(
    name="reviewcat",
    version="0.1.0",
    description="Balance, prepare and train a review-category classifier on Spark, AWS Glue and SageMaker",
    package_dir={"": "lib"},
    packages=find_packages("lib"),
    package_data={"reviewcat": ["data/*.csv", "data/*.properties"]},
    python_requires=">=3.10",
    install_requires=[
        # Spark 3.5 is the AWS Glue 5 runtime.
        "pyspark>=3.5.4,<3.6",
        "pyarrow>=14,<27",
        "pandas>=2.0,<3",
        "numpy>=1.26,<3",
        "nltk>=3.9,<4",
    ],
    extras_require={
        # What `make demo` needs beyond the jobs themselves (training joins here).
        "demo": [],
        # The awsglue Python interface (no JVM side): the Glue branch is tested against its real API.
        "test": ["pytest>=8,<10", "AWSGlueDataplanePython>=5.0,<6"],
    },
    entry_points={"console_scripts": ["reviewcat=reviewcat.cli:main"]},
)
