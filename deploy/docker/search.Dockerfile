# Builds the search service from its own module and pkg only, with the workspace off, into a small static image.
# Build context: the repository root (docker compose does this).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY pkg/ pkg/
COPY services/search/ services/search/
WORKDIR /src/services/search
ENV GOWORK=off CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/search ./cmd/search && mkdir /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/search /usr/local/bin/search
# The index's folder, owned by the image's user: a new named volume mounted there takes its owner, so the
# non-root process can write its index.
COPY --from=build --chown=65532:65532 /out/data /data
ENTRYPOINT ["/usr/local/bin/search"]
