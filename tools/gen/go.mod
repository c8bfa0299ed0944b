module github.com/batonhq/baton/tools/gen

go 1.26.0

// The code generators of `make generate`, in a module of their own so that
// each is built at a tagged version: tools/go.mod also holds buf, which
// needs a newer, untagged google.golang.org/protobuf, and Go's minimal
// version selection would build protoc-gen-go at that pseudo-version (it
// then stamps "v1.36.12-devel" into every .pb.go file).
tool (
	connectrpc.com/connect/cmd/protoc-gen-connect-go
	google.golang.org/protobuf/cmd/protoc-gen-go
)

require google.golang.org/protobuf v1.36.12

require connectrpc.com/connect v1.21.1 // indirect
