// Package inventorypb holds the inventory service's gRPC contract. The *.pb.go files are
// generated from inventory.proto: edit the proto, then run go generate.
package inventorypb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative inventory.proto
