# Multi-stage build of the Wintro Teams messaging service: a static binary
# on a distroless base, running as a non-root user with no shell.
#
#   docker build --build-arg VERSION=$(git describe --always) --build-arg COMMIT=$(git rev-parse HEAD) -t wintro-teams .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
    -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
    -o /out/wintro-teams .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/wintro-teams /wintro-teams
USER nonroot:nonroot
EXPOSE 8080
ENV WINTRO_ENV=production WINTRO_LISTEN_ADDR=:8080
ENTRYPOINT ["/wintro-teams"]
CMD ["serve"]
