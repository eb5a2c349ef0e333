// Package deploy holds the configuration of the shop's telemetry backends
// (prometheus/, jaeger/, grafana/, loki/, postgres/, rabbitmq/), shared by
// compose.yaml and local mode (internal/localstack). It has no code: its
// tests load compose.yaml with the parser docker compose uses and check what
// it references, since no container can run on the build machines.
package deploy
