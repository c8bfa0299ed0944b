// The generated Go code (messages and Connect clients/handlers), a module of
// its own so that partners' builds get it without Baton's server
// dependencies. Required by the server (go.mod) and by the Go client
// (clients/go); go.work at the repository root builds all three from this
// checkout. Tagged as gen/go/vX.Y.Z together with clients/go/vX.Y.Z.
module github.com/batonhq/baton/gen/go

go 1.26.0

require (
	buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go v1.36.12-20260825204119-511051f7f437.2
	connectrpc.com/connect v1.21.1
	google.golang.org/protobuf v1.36.12
)
