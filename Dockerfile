# Thaw's image: every executable the manifests run (thaw-activator, thaw-autoscaler, thaw-collector),
# the thaw-queue sidecar model pods run beside their server, and the thaw CLI (thaw render).
#   docker build -t REGISTRY/thaw:TAG .
# Tests/ArchitectureTests checks that every product built and copied here exists in Package.swift.

FROM swift:6.1-bookworm AS build
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libcurl4-openssl-dev libprotobuf-c-dev libsnappy-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole package (the manifest names test and example targets too); .dockerignore leaves out .build.
COPY . .
RUN swift build -c release --static-swift-stdlib \
      --product thaw-activator --product thaw-autoscaler --product thaw-collector --product thaw-queue --product thaw \
 && mkdir /out \
 && cp .build/release/thaw-activator .build/release/thaw-autoscaler .build/release/thaw-collector \
       .build/release/thaw-queue .build/release/thaw /out/

# The runtime: only the C libraries the executables load (libcurl, protobuf-c, snappy) and CA certificates.
FROM debian:bookworm-slim
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libcurl4 libprotobuf-c1 libsnappy1v5 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
# The manifests run it as this user, with a read-only root file system.
USER 65532:65532
ENTRYPOINT []
CMD ["thaw-activator", "--help"]
