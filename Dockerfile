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

# The manifest names targets under Sources/ and Tests/ (with custom paths), so both
# folders are needed before SwiftPM loads it. Package.resolved is not kept in the
# repository; dependencies are resolved here.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift package resolve
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
