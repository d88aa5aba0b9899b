package browser

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func startOrSkip(t *testing.T) *Browser {
	t.Helper()
	bin, err := Path()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Start(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

const testPage = `<!doctype html><title>t</title><p id=p>hello</p>
<script>
console.log("from the page", 42);
setTimeout(() => { window.late = {n: 7, s: "x"}; }, 200);
</script>`

func TestPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(testPage))
	}))
	defer srv.Close()
	b := startOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := b.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Navigate(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	var text string
	if err := p.Poll(ctx, `document.getElementById("p")?.textContent`, 20*time.Millisecond, &text); err != nil || text != "hello" {
		t.Fatalf("text = %q, %v", text, err)
	}
	var late struct {
		N int
		S string
	}
	if err := p.Poll(ctx, "window.late", 20*time.Millisecond, &late); err != nil || late.N != 7 || late.S != "x" {
		t.Fatalf("late = %+v, %v", late, err)
	}
	if ok, err := p.Evaluate(ctx, "window.nothing", nil); ok || err != nil {
		t.Errorf("undefined: ok=%v err=%v", ok, err)
	}
	var sum int
	if ok, err := p.Evaluate(ctx, "Promise.resolve(40).then((x) => x + 2)", &sum); !ok || err != nil || sum != 42 {
		t.Errorf("promise: %d ok=%v err=%v", sum, ok, err)
	}
	if _, err := p.Evaluate(ctx, `(() => { throw new Error("boom") })()`, nil); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("throw: err = %v", err)
	}
	png, err := p.Screenshot(ctx)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
	found := false
	for _, l := range p.Log() {
		found = found || l == "console.log: from the page 42"
	}
	if !found {
		t.Errorf("log %q lacks the console.log line", p.Log())
	}
	if err := p.Close(ctx); err != nil {
		t.Error(err)
	}
}

func TestNavigateFails(t *testing.T) {
	l := httptest.NewServer(http.NotFoundHandler())
	url := l.URL
	l.Close() // nothing listens there now
	b := startOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := b.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Navigate(ctx, url); err == nil || !strings.Contains(err.Error(), "ERR_CONNECTION_REFUSED") {
		t.Errorf("navigate to a closed port: %v", err)
	}
}
