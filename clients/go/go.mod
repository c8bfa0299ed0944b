module github.com/batonhq/baton/clients/go

go 1.26.0

// No replace: this module needs only the generated code
// (github.com/batonhq/baton/gen/go) and the Connect and protobuf runtimes,
// never the server module (github.com/batonhq/baton, with pgx, River and
// embedded-postgres). In this checkout go.work at the repository root
// builds it against ../../gen/go; partners get both tagged versions
// (clients/go/vX.Y.Z and gen/go/vX.Y.Z, tagged together).
require (
	buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go v1.36.12-20260825204119-511051f7f437.2
	connectrpc.com/connect v1.21.1
	github.com/batonhq/baton/gen/go v0.1.0
	google.golang.org/protobuf v1.36.12
)
