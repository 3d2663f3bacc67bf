# Builds the gateway service from its own module and pkg only, with the workspace off, into a small static image.
# Build context: the repository root (docker compose does this).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY pkg/ pkg/
COPY services/gateway/ services/gateway/
WORKDIR /src/services/gateway
ENV GOWORK=off CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/gateway ./cmd/gateway

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gateway /usr/local/bin/gateway
ENTRYPOINT ["/usr/local/bin/gateway"]
