# Builds the catalog service from its own module and pkg only, with the workspace off, into a small static image.
# Build context: the repository root (docker compose does this).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY pkg/ pkg/
COPY services/catalog/ services/catalog/
WORKDIR /src/services/catalog
ENV GOWORK=off CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/catalog ./cmd/catalog

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/catalog /usr/local/bin/catalog
ENTRYPOINT ["/usr/local/bin/catalog"]
