# Folio server image.
#   docker build -t folio .
#   docker run --rm -e FOLIO_DATABASE_URL=postgres://... -p 8080:8080 folio
# See docker-compose.yml for PostgreSQL + migrations + server together.

ARG SWIFT_IMAGE=swift:6.1-bookworm

# ---- build ------------------------------------------------------------------
FROM ${SWIFT_IMAGE} AS build

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libpq-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Resolve dependencies first so this layer is cached while only sources change.
# (Package.resolved is not kept in the repository; it is resolved here.)
COPY Package.swift ./
RUN swift package resolve

COPY Sources ./Sources
RUN swift build -c release --product folio --static-swift-stdlib \
 && install -D -m 0755 "$(swift build -c release --show-bin-path)/folio" /out/folio

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libpq5 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /home/folio --shell /usr/sbin/nologin folio

COPY --from=build /out/folio /usr/local/bin/folio
COPY migrations/ /usr/share/folio/migrations/

ENV FOLIO_MIGRATIONS_DIR=/usr/share/folio/migrations \
    FOLIO_LISTEN=0.0.0.0:8080

USER folio
WORKDIR /home/folio
EXPOSE 8080

ENTRYPOINT ["folio"]
CMD ["serve"]
