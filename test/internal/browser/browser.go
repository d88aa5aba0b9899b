// Package browser drives a headless Chromium (Debian's chromium package,
// installed by scripts/install-test-deps.sh) for the end-to-end tests, over
// the Chrome DevTools Protocol (CDP) spoken directly on a WebSocket: start
// the browser, open a page, navigate, evaluate JavaScript, read the page's
// console and take a screenshot. It is the few CDP commands a test needs,
// not a general automation library (chromedp and its dependencies are far
// more than that).
//
// One Browser is one chromium process with a throw-away profile directory,
// and one WebSocket to its browser endpoint; each Page is a tab reached
// through a flattened CDP session on that same socket (Target.attachToTarget
// with flatten), so every message carries its session id and one read loop
// serves them all.
package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// Path finds Chromium: $CHROMIUM if set, else chromium or
// chromium-browser on PATH.
func Path() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not installed (make tools: scripts/install-test-deps.sh installs Debian's chromium)")
}

// Browser is a running headless Chromium and the CDP connection to it.
type Browser struct {
	cmd     *exec.Cmd
	dir     string          // the profile (--user-data-dir), removed at Close
	conn    *websocket.Conn // the browser endpoint
	stderr  *tail           // chromium's output after the DevTools line
	exited  chan struct{}   // closed when the process has been waited for
	readEnd chan struct{}   // closed when the read loop has stopped

	wmu sync.Mutex // serialises writes on conn (gorilla allows one writer)

	mu       sync.Mutex // guards the fields below
	nextID   int64
	pending  map[int64]chan reply
	pages    map[string]*Page // by CDP session id
	readErr  error            // why the read loop stopped
	closeErr error
	closed   bool
}

// reply is a command's answer.
type reply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    string `json:"data"`
	} `json:"error"`
}

// message is anything chromium sends: a reply (ID set) or an event.
type message struct {
	reply
	ID        int64           `json:"id"`
	Method    string          `json:"method"`
	Params    json.RawMessage `json:"params"`
	SessionID string          `json:"sessionId"`
}

// Start runs bin (from Path) headless with a fresh profile and connects
// to its DevTools endpoint. extraArgs are added to the command line. The
// caller must Close it. ctx bounds the start only.
//
// Chromium runs without its sandbox: as root (CI, containers) it refuses
// to start otherwise, and the pages it loads here are the tests' own.
func Start(ctx context.Context, bin string, extraArgs ...string) (*Browser, error) {
	dir, err := os.MkdirTemp("", "leafgate-chromium-")
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--headless=new",
		"--remote-debugging-address=127.0.0.1",
		"--remote-debugging-port=0", // chromium picks a port and prints it
		"--user-data-dir=" + dir,
		"--no-sandbox",
		"--no-first-run",
		"--no-default-browser-check",
		"--disable-gpu",
		"--disable-extensions",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--disable-dev-shm-usage",
		"--mute-audio",
		"--window-size=1024,768",
	}, extraArgs...)
	args = append(args, "about:blank")
	cmd := exec.Command(bin, args...)
	// Chromium forks a zygote, a GPU process and renderers: a process group
	// lets Close end all of them and nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	b := &Browser{
		cmd:     cmd,
		dir:     dir,
		stderr:  &tail{max: 64 << 10},
		exited:  make(chan struct{}),
		readEnd: make(chan struct{}),
		pending: map[int64]chan reply{},
		pages:   map[string]*Page{},
	}

	// Read stderr until the DevTools line, then keep draining it (a full
	// pipe would stall chromium) into a bounded tail for error messages.
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if u, ok := strings.CutPrefix(line, "DevTools listening on "); ok && !sent {
				urlc <- strings.TrimSpace(u)
				sent = true
				continue
			}
			b.stderr.add(line)
		}
		_, _ = io.Copy(io.Discard, pipe)
		close(urlc) // safe: only this goroutine sends
	}()
	go func() {
		_ = cmd.Wait()
		close(b.exited)
	}()

	var wsURL string
	select {
	case u, ok := <-urlc:
		if !ok {
			b.kill()
			return nil, fmt.Errorf("chromium exited before it printed its DevTools URL: %s", b.stderr)
		}
		wsURL = u
	case <-ctx.Done():
		b.kill()
		return nil, fmt.Errorf("chromium did not print its DevTools URL: %w: %s", ctx.Err(), b.stderr)
	}
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		b.kill()
		return nil, fmt.Errorf("connect to chromium's DevTools at %s: %w", wsURL, err)
	}
	b.conn = conn
	go b.readLoop()
	return b, nil
}

// Version is the browser's product string, e.g. "Chrome/156.0.8078.114".
func (b *Browser) Version(ctx context.Context) (string, error) {
	var v struct {
		Product string `json:"product"`
	}
	err := b.call(ctx, "", "Browser.getVersion", nil, &v)
	return v.Product, err
}

// Close asks chromium to quit, waits a little for it, kills its process
// group if it lingers, and removes its profile. It returns why the
// connection failed earlier, if it did.
func (b *Browser) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return b.closeErr
	}
	b.closed = true
	readErr := b.readErr
	b.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.call(ctx, "", "Browser.close", nil, nil)
	select {
	case <-b.exited:
	case <-ctx.Done():
	}
	b.kill()
	b.conn.Close()
	<-b.readEnd
	if readErr != nil && !errors.Is(readErr, errClosed) {
		b.closeErr = readErr
	}
	return b.closeErr
}

// errClosed marks the read loop's end that Close caused.
var errClosed = errors.New("browser closed")

// kill ends chromium's whole process group (it is ours: Setpgid) unless
// it has exited already (Browser.close ends its children), waits for the
// process and removes the profile.
func (b *Browser) kill() {
	select {
	case <-b.exited:
	default:
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-b.exited
	}
	// A leftover temp dir is harmless: ignore errors.
	_ = os.RemoveAll(b.dir)
}

// Stderr is chromium's recent output (after the DevTools line), for
// failure messages.
func (b *Browser) Stderr() string { return b.stderr.String() }

// call sends method with params on session ("" for the browser itself)
// and decodes the result into out (if not nil).
func (b *Browser) call(ctx context.Context, session, method string, params, out any) error {
	b.mu.Lock()
	if b.readErr != nil {
		err := b.readErr
		b.mu.Unlock()
		return fmt.Errorf("%s: %w", method, err)
	}
	b.nextID++
	id := b.nextID
	ch := make(chan reply, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
	}()

	req := map[string]any{"id": id, "method": method}
	if params != nil {
		req["params"] = params
	}
	if session != "" {
		req["sessionId"] = session
	}
	b.wmu.Lock()
	err := b.conn.WriteJSON(req)
	b.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return fmt.Errorf("%s: CDP error %d: %s %s", method, r.Error.Code, r.Error.Message, r.Error.Data)
		}
		if out != nil {
			if err := json.Unmarshal(r.Result, out); err != nil {
				return fmt.Errorf("%s: decode result: %w", method, err)
			}
		}
		return nil
	case <-b.readEnd:
		b.mu.Lock()
		err := b.readErr
		b.mu.Unlock()
		return fmt.Errorf("%s: %w", method, err)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// readLoop is the connection's only reader: replies go to their caller,
// events to their page.
func (b *Browser) readLoop() {
	defer close(b.readEnd)
	for {
		var m message
		if err := b.conn.ReadJSON(&m); err != nil {
			b.mu.Lock()
			if b.closed {
				err = errClosed
			} else {
				err = fmt.Errorf("DevTools connection: %w (chromium: %s)", err, b.stderr)
			}
			b.readErr = err
			b.mu.Unlock()
			return
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch, ok := b.pending[m.ID]; ok {
				ch <- m.reply
			}
			b.mu.Unlock()
			continue
		}
		p := b.pages[m.SessionID]
		b.mu.Unlock()
		if p != nil {
			p.event(m.Method, m.Params)
		}
	}
}

// tail keeps the last max bytes of lines written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, line...)
	t.buf = append(t.buf, '\n')
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
