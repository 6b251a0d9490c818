# BlockLoop runtime image: `blockloop` CLI (probe, bench, ...) on a JRE 25 with liburing and libaio.
#
# Real users:  docker build -t blockloop .            (FROM the public eclipse-temurin:25-jre)
# CI / tests:  bin/build-base-image && docker build --build-arg BASE_IMAGE=blockloop-base:local -t blockloop .
#              (no image registry reachable: the base is a local debootstrap + host JDK, see bin/build-base-image)
# Context: only this file and blockcore/target/blockloop.jar (see .dockerignore); build the jar first
# (./mvnw -pl blockcore -am package).
#
# Run against a block device: the container needs the device node, CAP_SYS_ADMIN and an unconfined
# seccomp profile (Docker >= 25 blocks io_uring by default); --privileged is not required:
#   docker run --rm --device /dev/loop0 --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
#     blockloop probe /dev/loop0 --json
ARG BASE_IMAGE=eclipse-temurin:25-jre
FROM ${BASE_IMAGE}

# liburing.so.2 and libaio.so.1 are loaded by soname at run time. Install them only when the base image
# lacks them, so the local base image (which has both) builds with no network at all.
# (Ubuntu 24.04, under eclipse-temurin, renamed libaio1 to libaio1t64 in the 64-bit time_t transition.)
RUN if ldconfig -p | grep -q 'liburing\.so\.2 ' && ldconfig -p | grep -q 'libaio\.so\.1 '; then \
      echo "liburing2 and libaio1 already present"; \
    else \
      set -e; \
      apt-get update; \
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends liburing2; \
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libaio1t64 \
        || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libaio1; \
      rm -rf /var/lib/apt/lists/*; \
    fi

COPY blockcore/target/blockloop.jar /opt/blockloop/blockloop.jar

# The jar's manifest carries Enable-Native-Access and Add-Exports: no JVM flags needed.
# Both base images put java on PATH (eclipse-temurin: /opt/java/openjdk/bin, local: /opt/java/bin).
ENTRYPOINT ["java", "-jar", "/opt/blockloop/blockloop.jar"]
