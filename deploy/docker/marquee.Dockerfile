# The all-in-one binary (embedded NATS, SQLite, Bleve) with the seed, for a single-container deployment.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY . .
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/marquee ./cmd/marquee

FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/marquee /usr/local/bin/marquee
COPY data/imdb.json /app/data/imdb.json
ENV MARQUEE_ADDR=0.0.0.0:8080 MARQUEE_DATA_DIR=/app/var
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/marquee"]
CMD ["serve"]
