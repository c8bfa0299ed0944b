module github.com/batonhq/baton/clients/go

go 1.26.0

require (
	buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go v1.36.12-20260825204119-511051f7f437.2
	connectrpc.com/connect v1.21.1
	github.com/batonhq/baton v0.0.0
	google.golang.org/protobuf v1.36.12
)

// Local development: build against the generated code of this checkout.
// A replace applies only when this module is the main module: partners
// require a tagged github.com/batonhq/baton/clients/go, so before tagging a
// release, set the require of github.com/batonhq/baton above to the matching
// tagged version (see README.md).
replace github.com/batonhq/baton => ../..
