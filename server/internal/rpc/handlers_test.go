package rpc

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/batonhq/baton/gen/go/baton/v1"
)

// TestEveryPagedRequestHasANextPageToken: list (the shared page-token
// handling) sets next_page_token by name, so every method whose request
// takes a page_token must answer one.
func TestEveryPagedRequestHasANextPageToken(t *testing.T) {
	t.Parallel()
	n := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("baton.v1", func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			ms := f.Services().Get(i).Methods()
			for j := range ms.Len() {
				m := ms.Get(j)
				if m.Input().Fields().ByName("page_token") == nil {
					continue
				}
				n++
				if fd := m.Output().Fields().ByName("next_page_token"); fd == nil || fd.Kind() != protoreflect.StringKind {
					t.Errorf("%s takes a page_token but %s has no next_page_token string", m.FullName(), m.Output().FullName())
				}
			}
		}
		return true
	})
	if n == 0 {
		t.Fatal("no paged method found: is the contract registered?")
	}
}
