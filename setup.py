"""Build the dbsync Python package: libdbsync (static, via CMake) + SWIG.

`pip install .` is the only step: build_ext configures and builds the
C library's static archive with CMake in a temporary directory, runs SWIG on
bindings/dbsync.i, and links the extension `dbsync.__core` against the
archive (the raw SWIG module `dbsync._core` is private; users import
`dbsync`).
"""

import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
# System libraries libdbsync.a depends on (CMakeLists.txt DBSYNC_DEPS_PC).
DEPS_PC = ["sqlite3", "libcrypto", "libcurl", "libmicrohttpd", "jansson",
           "libpq"]
DEPS_FALLBACK = ["sqlite3", "crypto", "curl", "microhttpd", "jansson", "pq"]


def read_version():
    with open(os.path.join(HERE, "libdbsync/include/dbsync/common.h")) as f:
        text = f.read()
    return re.search(r'#define DBSYNC_VERSION "([^"]+)"', text).group(1)


def pkg_config_libs():
    try:
        out = subprocess.run(["pkg-config", "--libs"] + DEPS_PC,
                             check=True, capture_output=True,
                             text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return [], DEPS_FALLBACK
    dirs = [a[2:] for a in out if a.startswith("-L")]
    libs = [a[2:] for a in out if a.startswith("-l")]
    return dirs, libs


class BuildExt(build_ext):
    """Build libdbsync.a with CMake and the SWIG wrapper, then the ext."""

    def run(self):
        cmake_dir = os.path.join(os.path.abspath(self.build_temp), "cmake")
        os.makedirs(cmake_dir, exist_ok=True)
        for tool in ("cmake", "swig"):
            if not shutil.which(tool):
                sys.exit(f"dbsync: building needs {tool} (./dev setup "
                         "installs it)")
        subprocess.check_call([
            "cmake", "-S", HERE, "-B", cmake_dir,
            "-DCMAKE_BUILD_TYPE=Release",
            "-DDBSYNC_BUILD_TESTS=OFF", "-DDBSYNC_BUILD_BENCH=OFF",
            "-DDBSYNC_BUILD_LUA=OFF",
            "-DCMAKE_POSITION_INDEPENDENT_CODE=ON"])
        subprocess.check_call([
            "cmake", "--build", cmake_dir, "--target", "dbsync_static",
            "-j", str(os.cpu_count() or 2)])
        archive = os.path.join(cmake_dir, "libdbsync.a")

        # SWIG: the C wrapper into build_temp, the proxy _core.py into the
        # package being built (and next to the sources for --inplace).
        wrap_c = os.path.join(os.path.abspath(self.build_temp),
                              "dbsync_wrap.c")
        pkg_out = os.path.join(os.path.abspath(self.build_lib), "dbsync")
        if self.inplace:
            pkg_out = os.path.join(HERE, "python", "dbsync")
        os.makedirs(pkg_out, exist_ok=True)
        subprocess.check_call([
            "swig", "-python", "-builtin", "-I" + os.path.join(HERE, "libdbsync/include"),
            "-outdir", pkg_out, "-o", wrap_c,
            os.path.join(HERE, "bindings", "dbsync.i")])

        lib_dirs, libs = pkg_config_libs()
        for ext in self.extensions:
            ext.sources = [wrap_c]
            ext.extra_objects = [archive]
            ext.library_dirs = lib_dirs
            ext.libraries = libs + ["pthread"]
        super().run()


setup(
    name="dbsync",
    version=read_version(),
    description="Offline-first sync of SQLite databases with a central server",
    python_requires=">=3.9",
    package_dir={"": "python"},
    packages=["dbsync"],
    package_data={"dbsync": ["py.typed"]},
    # dbsync.sqlalchemy only; `import dbsync` never needs it.
    extras_require={"sqlalchemy": ["SQLAlchemy>=2.0"]},
    ext_modules=[Extension(
        "dbsync.__core",
        sources=["bindings/dbsync.i"],  # replaced by the SWIG output
        include_dirs=[os.path.join("libdbsync", "include")],
        define_macros=[("DBSYNC_STATIC", None)],
        # SWIG's generated code has unused parameters everywhere; the
        # binding's own code stays warning-free with the rest on.
        extra_compile_args=["-Wall", "-Wextra", "-Wno-unused-parameter",
                            "-std=gnu11"],
    )],
    cmdclass={"build_ext": BuildExt},
    # Not build/: that is the CMake tree of ./dev build.
    options={"build": {"build_base": "build-python"}},
    zip_safe=False,
)
