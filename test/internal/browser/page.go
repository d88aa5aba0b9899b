package browser

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Page is one tab, driven through its own CDP session.
type Page struct {
	b        *Browser
	targetID string
	session  string

	mu     sync.Mutex
	log    []string // console calls, uncaught exceptions and browser log entries
	ws     []*WebSocket
	wsByID map[string]*WebSocket // by CDP request id
}

// WebSocket is what the browser reports about one WebSocket the page
// opened: its handshake, as sent and as answered, and how it ended. The
// page's JavaScript sees none of this (a refused handshake is only an
// error event there).
type WebSocket struct {
	URL      string
	Request  map[string]string // handshake request headers
	Status   int               // the handshake's HTTP status; 0: no answer
	Response map[string]string // handshake response headers
	Error    string            // a frame or connection error
	Closed   bool
}

// NewPage opens a blank tab and enables the domains Page needs: Page (for
// navigation), Runtime (console and exceptions), Log (what the browser
// itself reports about the page, such as a refused WebSocket handshake)
// and Network (WebSocket handshakes).
func (b *Browser) NewPage(ctx context.Context) (*Page, error) {
	var created struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &created); err != nil {
		return nil, err
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": created.TargetID, "flatten": true}, &attached); err != nil {
		return nil, err
	}
	p := &Page{b: b, targetID: created.TargetID, session: attached.SessionID}
	b.mu.Lock()
	b.pages[p.session] = p
	b.mu.Unlock()
	for _, domain := range []string{"Page.enable", "Runtime.enable", "Log.enable", "Network.enable"} {
		if err := b.call(ctx, p.session, domain, nil, nil); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Navigate loads url and returns once the browser has committed to it
// (not when the page has finished its work: Poll for that). A failed load
// (refused connection, DNS) is an error.
func (p *Page) Navigate(ctx context.Context, url string) error {
	var r struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.b.call(ctx, p.session, "Page.navigate", map[string]any{"url": url}, &r); err != nil {
		return err
	}
	if r.ErrorText != "" {
		return fmt.Errorf("navigate to %s: %s", url, r.ErrorText)
	}
	return nil
}

// remoteObject is Runtime.evaluate's result, by value.
type remoteObject struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// Evaluate runs the JavaScript expression expr in the page, awaits it if
// it is a promise, and decodes its value (JSON-serialisable) into out.
// ok is false when the value is undefined or null, and out is untouched
// then. A thrown exception is an error.
func (p *Page) Evaluate(ctx context.Context, expr string, out any) (ok bool, err error) {
	var r struct {
		Result           remoteObject `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception *struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	params := map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}
	if err := p.b.call(ctx, p.session, "Runtime.evaluate", params, &r); err != nil {
		return false, err
	}
	if d := r.ExceptionDetails; d != nil {
		msg := d.Text
		if d.Exception != nil {
			msg = d.Exception.Description
		}
		return false, fmt.Errorf("evaluate %q: %s", expr, msg)
	}
	v := r.Result.Value
	if len(v) == 0 || string(v) == "null" {
		return false, nil
	}
	if out != nil {
		if err := json.Unmarshal(v, out); err != nil {
			return false, fmt.Errorf("evaluate %q: decode %s: %w", expr, v, err)
		}
	}
	return true, nil
}

// Poll evaluates expr every interval until its value is neither undefined
// nor null, and decodes it into out. It gives up when ctx ends.
func (p *Page) Poll(ctx context.Context, expr string, interval time.Duration, out any) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := p.Evaluate(ctx, expr, out)
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
		}
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
		case <-t.C:
		}
	}
}

// Screenshot captures the whole page as a PNG, beyond the window if the
// page is longer (up to maxShot pixels each way).
func (p *Page) Screenshot(ctx context.Context) ([]byte, error) {
	var m struct {
		Content struct {
			Width  float64 `json:"width"`
			Height float64 `json:"height"`
		} `json:"cssContentSize"`
	}
	if err := p.b.call(ctx, p.session, "Page.getLayoutMetrics", nil, &m); err != nil {
		return nil, err
	}
	params := map[string]any{"format": "png"}
	if w, h := min(m.Content.Width, maxShot), min(m.Content.Height, maxShot); w > 0 && h > 0 {
		params["captureBeyondViewport"] = true
		params["clip"] = map[string]any{"x": 0, "y": 0, "width": w, "height": h, "scale": 1}
	}
	var r struct {
		Data string `json:"data"`
	}
	if err := p.b.call(ctx, p.session, "Page.captureScreenshot", params, &r); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(r.Data)
}

// maxShot bounds a screenshot's width and height, in CSS pixels.
const maxShot = 4000

// Log is what the page printed (console.*), threw uncaught, and what the
// browser logged about it (e.g. "WebSocket connection to ... failed"),
// one line each, oldest first.
func (p *Page) Log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

// WebSockets are the WebSockets the page opened, in order of creation.
func (p *Page) WebSockets() []WebSocket {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]WebSocket, len(p.ws))
	for i, w := range p.ws {
		out[i] = *w
	}
	return out
}

// Close closes the tab.
func (p *Page) Close(ctx context.Context) error {
	p.b.mu.Lock()
	delete(p.b.pages, p.session)
	p.b.mu.Unlock()
	return p.b.call(ctx, "", "Target.closeTarget", map[string]any{"targetId": p.targetID}, nil)
}

// event records the events that explain what a page did.
func (p *Page) event(method string, params json.RawMessage) {
	var line string
	switch method {
	case "Runtime.consoleAPICalled":
		var e struct {
			Type string `json:"type"`
			Args []struct {
				Value       json.RawMessage `json:"value"`
				Description string          `json:"description"`
			} `json:"args"`
		}
		if json.Unmarshal(params, &e) != nil {
			return
		}
		parts := make([]string, 0, len(e.Args))
		for _, a := range e.Args {
			var s string
			switch {
			case json.Unmarshal(a.Value, &s) == nil:
			case len(a.Value) > 0:
				s = string(a.Value)
			default:
				s = a.Description
			}
			parts = append(parts, s)
		}
		line = "console." + e.Type + ": " + strings.Join(parts, " ")
	case "Runtime.exceptionThrown":
		var e struct {
			ExceptionDetails struct {
				Text      string `json:"text"`
				URL       string `json:"url"`
				Line      int    `json:"lineNumber"`
				Exception *struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		if json.Unmarshal(params, &e) != nil {
			return
		}
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg = d.Exception.Description
		}
		line = fmt.Sprintf("uncaught (%s:%d): %s", d.URL, d.Line+1, msg)
	case "Log.entryAdded":
		var e struct {
			Entry struct {
				Source string `json:"source"`
				Level  string `json:"level"`
				Text   string `json:"text"`
				URL    string `json:"url"`
			} `json:"entry"`
		}
		if json.Unmarshal(params, &e) != nil {
			return
		}
		line = fmt.Sprintf("browser %s %s: %s %s", e.Entry.Level, e.Entry.Source, e.Entry.Text, e.Entry.URL)
	default:
		if strings.HasPrefix(method, "Network.webSocket") {
			p.webSocketEvent(method, params)
		}
		return
	}
	p.mu.Lock()
	p.log = append(p.log, line)
	p.mu.Unlock()
}

// webSocketEvent follows a WebSocket through the Network domain's events,
// which name it by request id.
func (p *Page) webSocketEvent(method string, params json.RawMessage) {
	var e struct {
		RequestID string `json:"requestId"`
		URL       string `json:"url"`
		Request   struct {
			Headers map[string]string `json:"headers"`
		} `json:"request"`
		Response struct {
			Status  int               `json:"status"`
			Headers map[string]string `json:"headers"`
		} `json:"response"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(params, &e) != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wsByID == nil {
		p.wsByID = map[string]*WebSocket{}
	}
	w := p.wsByID[e.RequestID]
	if w == nil {
		w = &WebSocket{}
		p.wsByID[e.RequestID] = w
		p.ws = append(p.ws, w)
	}
	switch method {
	case "Network.webSocketCreated":
		w.URL = e.URL
	case "Network.webSocketWillSendHandshakeRequest":
		w.Request = e.Request.Headers
	case "Network.webSocketHandshakeResponseReceived":
		w.Status, w.Response = e.Response.Status, e.Response.Headers
	case "Network.webSocketFrameError":
		w.Error = e.ErrorMessage
	case "Network.webSocketClosed":
		w.Closed = true
	}
}
