# syntax=docker/dockerfile:1
#
# One image for every LodiWelfare binary: catalog-svc, booking-svc, wallet-svc and the
# all-in-one lodiwelfare. One build of the workspace compiles the shared dependencies once (most
# of the build), the three services always ship the same contract version, and operations scan,
# sign and promote one artifact; each Deployment names its binary as the command. The binaries
# add up to a few tens of megabytes on a slim Debian base.
#
#   docker build -t lodiwelfare:dev .
#   docker run --rm lodiwelfare:dev lodiwelfare --version

FROM rust:1.95.0-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
        -p catalog-svc -p booking-svc -p wallet-svc -p lodiwelfare --bins \
    && mkdir /out \
    && cp target/release/catalog-svc target/release/booking-svc \
          target/release/wallet-svc target/release/lodiwelfare /out/ \
    && strip /out/*

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 lodiwelfare \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/lodiwelfare --create-home lodiwelfare
COPY --from=build /out/ /usr/local/bin/
# The distributed mode's configuration; a deployment mounts its own over it.
COPY deploy/kubernetes/base/config/ /etc/lodiwelfare/
USER 10001:10001
WORKDIR /var/lib/lodiwelfare
# gRPC (catalog 50051, booking 50052, wallet 50053; lodiwelfare serve 50051) and metrics.
EXPOSE 50051 50052 50053 9464
CMD ["lodiwelfare", "--data-dir", "/var/lib/lodiwelfare", "serve"]
