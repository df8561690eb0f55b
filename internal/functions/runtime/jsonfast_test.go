package runtime

import (
	"testing"

	"github.com/dop251/goja"
)

// TestPrimitiveJSON_MatchesStringify holds the fast path to JSON.stringify
// byte for byte, and to declining what it does not handle.
func TestPrimitiveJSON_MatchesStringify(t *testing.T) {
	vm := goja.New()
	stringify, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("stringify"))
	for _, src := range []string{
		`null`, `true`, `false`, `0`, `-0`, `1`, `-17`, `0.1`, `1e21`, `1e-7`, `123456789012345680000`,
		`2**53 + 2`, `NaN`, `Infinity`, `-Infinity`, `1/3`,
		`""`, `"ok"`, `"a\"b\\c"`, `"\b\f\n\r\t\u0000\u001f\u007f"`, `"é€😀"`, `"\u2028\u2029"`,
		`"\ud800"`, `"x\udc00y"`, `"\udbff\udfff"`, `"\ud83d"+"\ude00"`, `"\ude00\ud83d"`, `"<>&'"`,
	} {
		v, err := vm.RunString(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		want, err := stringify(goja.Undefined(), v)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := primitiveJSON(v)
		if !ok || got != want.String() {
			t.Errorf("%s: primitiveJSON = %q, %v; JSON.stringify = %q", src, got, ok, want.String())
		}
	}
	for _, src := range []string{`({})`, `[1]`, `new Boolean(false)`, `new String("s")`, `new Number(1)`, `10n`, `Symbol("s")`, `(() => 1)`} {
		v, err := vm.RunString(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got, ok := primitiveJSON(v); ok {
			t.Errorf("%s: primitiveJSON = %q, want it declined", src, got)
		}
	}
}
