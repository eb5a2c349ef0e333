package shoptest

import (
	"go/ast"
	"go/types"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

// stoppers are the testing.TB methods that end a test by stopping the calling
// goroutine: called from any other goroutine they stop that one instead, and the
// test goes on as if nothing happened (the testing package forbids it).
var stoppers = []string{"Fatal", "Fatalf", "FailNow", "Skip", "Skipf", "SkipNow"}

// No test of this module calls a stopper off its own goroutine, directly or
// through a helper of the module that (transitively) calls one. go vet's
// testinggoroutine analyzer sees direct calls only; this follows the module's
// own functions and methods, resolved with full type information.
func TestTests_StopOnlyOnTheirOwnGoroutine(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the whole module")
	}
	cfg := &packages.Config{
		Mode:  packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
		Dir:   "../..",
		Tests: true,
	}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		t.Fatal(err)
	}
	if n := packages.PrintErrors(pkgs); n > 0 {
		t.Fatalf("%d packages did not load", n)
	}
	c := newStopCheck(pkgs)
	if !c.mayStop["(*github.com/otelshop/shop/internal/shoptest.Client).AddToCart"] ||
		c.mayStop["(*github.com/otelshop/shop/internal/shoptest.Client).Do"] {
		t.Fatalf("the analysis is off: it must find (*Client).AddToCart and not (*Client).Do among %d helpers that stop", len(c.mayStop))
	}
	sites := 0
	for _, p := range pkgs {
		for _, f := range p.Syntax {
			for _, body := range goroutineBodies(p.TypesInfo, f) {
				sites++
				ast.Inspect(body, func(n ast.Node) bool {
					if name, stops := c.stops(p.TypesInfo, n); stops {
						t.Errorf("%s: %s is called off the test's goroutine: it stops that goroutine, not the test",
							p.Fset.Position(n.Pos()), name)
					}
					return true
				})
			}
		}
	}
	if sites == 0 {
		t.Fatal("found no goroutine in the module's tests: the scan is broken")
	}
}

type stopCheck struct {
	mayStop map[string]bool // full names of the module's functions that may stop
}

// newStopCheck finds every function and method of the module whose body calls a
// stopper, or one of them, until nothing more is found.
func newStopCheck(pkgs []*packages.Package) *stopCheck {
	type body struct {
		info *types.Info
		body *ast.BlockStmt
	}
	bodies := map[string][]body{}
	for _, p := range pkgs {
		for _, f := range p.Syntax {
			for _, decl := range f.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				if obj, ok := p.TypesInfo.Defs[fn.Name].(*types.Func); ok {
					bodies[obj.FullName()] = append(bodies[obj.FullName()], body{p.TypesInfo, fn.Body})
				}
			}
		}
	}
	c := &stopCheck{mayStop: map[string]bool{}}
	for changed := true; changed; {
		changed = false
		for name, bs := range bodies {
			for _, b := range bs {
				ast.Inspect(b.body, func(n ast.Node) bool {
					if c.mayStop[name] {
						return false
					}
					if _, ok := n.(*ast.FuncLit); ok {
						return false // a closure stops whoever calls it: judged where it runs
					}
					if _, stops := c.stops(b.info, n); stops {
						c.mayStop[name], changed = true, true
					}
					return true
				})
			}
		}
	}
	return c
}

// stops says whether n is a call that can stop the calling goroutine: a
// stopper of a testing type, or a function of the module that may call one.
func (c *stopCheck) stops(info *types.Info, n ast.Node) (string, bool) {
	call, ok := n.(*ast.CallExpr)
	if !ok {
		return "", false
	}
	var id *ast.Ident
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		id = fn
	case *ast.SelectorExpr:
		id = fn.Sel
	default:
		return "", false
	}
	obj, ok := info.Uses[id].(*types.Func)
	if !ok {
		return "", false
	}
	if obj.Pkg() != nil && obj.Pkg().Path() == "testing" && slices.Contains(stoppers, obj.Name()) {
		return obj.FullName(), true
	}
	return obj.FullName(), c.mayStop[obj.FullName()]
}

// goroutineBodies returns what runs on a goroutine of its own in f: the function
// of a go statement, and the functions given to a Go method (sync.WaitGroup,
// errgroup.Group) or to Concurrently.
func goroutineBodies(info *types.Info, f *ast.File) []ast.Node {
	var out []ast.Node
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			if lit, ok := n.Call.Fun.(*ast.FuncLit); ok {
				out = append(out, lit.Body)
			} else {
				out = append(out, n.Call)
			}
		case *ast.CallExpr:
			var id *ast.Ident
			switch fn := n.Fun.(type) {
			case *ast.Ident:
				id = fn
			case *ast.SelectorExpr:
				id = fn.Sel
			}
			obj, _ := info.Uses[id].(*types.Func)
			if obj == nil || (obj.Name() != "Go" && !strings.HasSuffix(obj.FullName(), "shoptest.Concurrently")) {
				return true
			}
			for _, arg := range n.Args {
				if lit, ok := arg.(*ast.FuncLit); ok {
					out = append(out, lit.Body)
				}
			}
		}
		return true
	})
	return out
}
