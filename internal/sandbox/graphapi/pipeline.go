package graphapi

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/google/uuid"
)

// Every Graph request, and every request inside a $batch, goes through one pipeline:
// stats -> token (401) -> route (400/405) -> fault (5xx) -> throttle (429) -> permission (403) -> handler.

// access says which application permissions let a caller use a route.
type access struct {
	anyToken bool
	// alternatives: the caller needs every role of at least one alternative.
	alternatives [][]string
	// ownedBy names the path parameter holding an application or service principal id: a caller with
	// Application.ReadWrite.OwnedBy may use the route on objects it owns.
	ownedBy string
}

// anyRole grants access to a caller holding any one of roles.
func anyRole(roles ...string) access {
	a := access{}
	for _, r := range roles {
		a.alternatives = append(a.alternatives, []string{r})
	}
	return a
}

// allOf adds an alternative that needs every one of roles.
func (a access) allOf(roles ...string) access {
	a.alternatives = append(a.alternatives, roles)
	return a
}

// orOwner lets Application.ReadWrite.OwnedBy callers in on objects they own.
func (a access) orOwner(param string) access { a.ownedBy = param; return a }

var anyToken = access{anyToken: true}

type graphRoute struct {
	method   string
	template string
	segs     []string
	access   access
	// cost in resource units (Graph's identity throttling); writes also count against the write budget.
	cost    int
	handler func(c *gctx)
}

func (r *graphRoute) key() string { return r.method + " " + r.template }

type graphRouter struct {
	s      *API
	routes []*graphRoute
}

// handle registers a route. template is relative to /v1.0, with {name} path parameters, which may
// also sit inside a segment (servicePrincipals(appId='{appId}')).
func (g *graphRouter) handle(method, template string, a access, h func(c *gctx)) *graphRoute {
	r := &graphRoute{method: method, template: template, segs: splitPath(template), access: a, cost: baseCost(method, template), handler: h}
	g.routes = append(g.routes, r)
	return r
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// match finds the route for method and path; pathMatched reports a route with another method.
func (g *graphRouter) match(method, path string) (r *graphRoute, params map[string]string, pathMatched bool) {
	segs := splitPath(path)
	for _, rt := range g.routes {
		p, ok := matchSegs(rt.segs, segs)
		if !ok {
			continue
		}
		if rt.method == method {
			return rt, p, true
		}
		pathMatched = true
	}
	return nil, nil, pathMatched
}

func matchSegs(tmpl, segs []string) (map[string]string, bool) {
	if len(tmpl) != len(segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, t := range tmpl {
		seg, err := url.PathUnescape(segs[i])
		if err != nil {
			return nil, false
		}
		open := strings.IndexByte(t, '{')
		if open < 0 {
			if !strings.EqualFold(t, seg) {
				return nil, false
			}
			continue
		}
		close := strings.IndexByte(t, '}')
		prefix, name, suffix := t[:open], t[open+1:close], t[close+1:]
		if !strings.HasPrefix(strings.ToLower(seg), strings.ToLower(prefix)) || !strings.HasSuffix(seg, suffix) || len(seg) <= len(prefix)+len(suffix) {
			return nil, false
		}
		v := seg[len(prefix) : len(seg)-len(suffix)]
		// Guess: Graph finds an object by its id in any letter case (ids are GUIDs, compared as such),
		// while the directory keeps them in lower case.
		if isGUIDLiteral(v) {
			v = strings.ToLower(v)
		}
		params[name] = v
	}
	return params, true
}

// gctx is one Graph request being served.
type gctx struct {
	s      *API
	w      http.ResponseWriter
	r      *http.Request
	params map[string]string
	query  url.Values
	claims *Caller
	route  *graphRoute
	body   []byte
}

func (c *gctx) param(name string) string { return c.params[name] }

// json writes v as Graph's JSON answer.
func (c *gctx) json(status int, v any) {
	c.w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	c.w.WriteHeader(status)
	_ = json.NewEncoder(c.w).Encode(v)
}

func (c *gctx) noContent() { c.w.WriteHeader(http.StatusNoContent) }

// error writes Graph's error envelope: always code, message and innerError with request-id.
func (c *gctx) error(status int, code, message string) {
	WriteError(c.w, c.r, status, code, message)
}

// notFound answers 404 Request_ResourceNotFound for id, as Graph does.
func (c *gctx) notFound(id string) {
	c.error(http.StatusNotFound, "Request_ResourceNotFound",
		fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
}

func (c *gctx) badRequest(message string) {
	c.error(http.StatusBadRequest, "Request_BadRequest", message)
}

// decode reads the JSON body into v; on failure it answers 400 and returns false.
func (c *gctx) decode(v any) bool {
	if len(bytes.TrimSpace(c.body)) == 0 {
		c.badRequest("Empty Payload. JSON content expected.")
		return false
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		c.badRequest("Invalid JSON in request body: " + err.Error())
		return false
	}
	return true
}

// baseURL is the origin and version the client used, for @odata.nextLink.
func (c *gctx) baseURL() string {
	scheme := "https"
	return scheme + "://" + c.r.Host + "/v1.0"
}

func WriteError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	reqID := w.Header().Get("request-id")
	if reqID == "" {
		reqID = uuid.NewString()
		w.Header().Set("request-id", reqID)
	}
	clientReqID := r.Header.Get("client-request-id")
	if clientReqID == "" {
		clientReqID = reqID
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code":    code,
		"message": message,
		"innerError": map[string]any{
			"date":              directory.GraphTime(time.Now()),
			"request-id":        reqID,
			"client-request-id": clientReqID,
		},
	}})
}

// serveGraph is the entry point for Graph requests on any listener.
func (s *API) serveGraph(w http.ResponseWriter, r *http.Request) {
	f := s.faults.get()
	if f.LatencyMS > 0 {
		time.Sleep(time.Duration(f.LatencyMS) * time.Millisecond)
	}
	rw := &statusWriter{ResponseWriter: w}
	reqID := uuid.NewString()
	rw.Header().Set("request-id", reqID)
	rw.Header().Set("client-request-id", cmp.Or(r.Header.Get("client-request-id"), reqID))
	// Graph's answers carry its time; here that is the sandbox's clock (advanced by tests), which
	// also stamps createdDateTime, so a client can age what it lists against the service's now.
	rw.Header().Set("Date", s.clock.Now().Format(http.TimeFormat))
	body, err := readBody(r)
	if err != nil {
		WriteError(rw, r, http.StatusBadRequest, "BadRequest", "Could not read the request body: "+err.Error())
		s.stats.record("", "", rw.status, true)
		return
	}
	claims, authErr := s.verify(r.Header.Get("Authorization"))
	appID := ""
	if claims != nil {
		appID = claims.AppID
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1.0")
	if r.Method == http.MethodPost && strings.EqualFold(strings.Trim(path, "/"), "$batch") {
		serve := func(w http.ResponseWriter) {
			if authErr != nil {
				WriteError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", authErr.Error())
			} else {
				s.serveBatch(w, r, claims, body)
			}
		}
		if d := s.faults.holds(batchRoute); d > 0 {
			s.hold(rw, r, batchRoute, d, serve)
		} else {
			serve(rw)
		}
		s.stats.record(batchRoute, appID, rw.status, true)
		return
	}
	var key string
	serve := func(w http.ResponseWriter) { key = s.serveGraphRequest(w, r, claims, authErr, path, body) }
	if rt, _, _ := s.graphMux.match(r.Method, path); rt != nil && s.faults.holds(rt.key()) > 0 {
		s.hold(rw, r, rt.key(), s.faults.holds(rt.key()), serve)
	} else {
		serve(rw)
	}
	s.stats.record(key, appID, rw.status, true)
}

// batchRoute is the route key of $batch requests.
const batchRoute = "POST /$batch"

// serveGraphRequest runs one request (top level or batch item) through the pipeline and returns the
// route key it matched ("" when none).
func (s *API) serveGraphRequest(w http.ResponseWriter, r *http.Request, claims *Caller, authErr error, path string, body []byte) string {
	if authErr != nil {
		WriteError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", authErr.Error())
		return ""
	}
	rt, params, pathMatched := s.graphMux.match(r.Method, path)
	if rt == nil {
		if pathMatched {
			// Graph's answer for a method a resource does not support (e.g. PATCH on a schema).
			WriteError(w, r, http.StatusNotFound, "UnknownError", "No HTTP resource was found that matches the request URI '"+r.URL.String()+"'.")
			return ""
		}
		seg := path
		if segs := splitPath(path); len(segs) > 0 {
			seg = segs[len(segs)-1]
		}
		WriteError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", seg))
		return ""
	}
	c := &gctx{s: s, w: w, r: r, params: params, query: r.URL.Query(), claims: claims, route: rt, body: body}
	if status, fail := s.faults.injectServerError(rt.key()); fail {
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
			c.error(status, "serviceNotAvailable", "The service is temporarily unavailable. Please retry.")
		} else if strings.HasPrefix(rt.template, syncRoutes) {
			// The synchronization service wraps its own errors in UnknownError (see syncError); the
			// code and message inside are a guess.
			c.syncError(status, "InternalServerError", "An internal error occurred in the synchronization service. Retry the request later.")
		} else {
			c.error(status, "generalException", "An internal server error occurred while processing the request.")
		}
		return rt.key()
	}
	cost := requestCost(rt.cost, c.query)
	if s.faults.stormThrottles() {
		// Guess: Graph's storms carry the same headers as an exhausted budget; which budget they name
		// is not known, so the storm names the pair's. Retry-After: 1 (whole seconds).
		c.throttled(time.Second-time.Millisecond, "Tenant_Application/ReadWrite/"+claims.AppID+"/"+claims.TenantID, "ResourceUnitLimitExceeded")
		return rt.key()
	}
	throttle := func() (time.Duration, string, string, bool) {
		return s.faults.throttle(claims.TenantID, claims.AppID, cost, writesOf(r.Method, rt.template))
	}
	if strings.HasPrefix(rt.template, reportsRoutes) {
		throttle = func() (time.Duration, string, string, bool) {
			return s.faults.throttleReports(claims.TenantID, claims.AppID)
		}
	}
	if wait, scope, info, ok := throttle(); !ok {
		c.throttled(wait, scope, info)
		return rt.key()
	}
	w.Header().Set("x-ms-resource-unit", strconv.Itoa(cost))
	if !s.allowed(c) {
		c.error(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return rt.key()
	}
	if s.syncUnready(c) {
		return rt.key()
	}
	rt.handler(c)
	return rt.key()
}

// throttled answers 429 with Graph's throttling headers, asking the client to wait at least wait.
func (c *gctx) throttled(wait time.Duration, scope, info string) {
	retryAfter := strconv.Itoa(int(wait/time.Second) + 1)
	if c.s.faults.get().RetryAfterFractional {
		retryAfter = strconv.FormatFloat(max(wait.Seconds(), 0.001), 'f', 3, 64)
	}
	c.w.Header().Set("Retry-After", retryAfter)
	c.w.Header().Set("x-ms-throttle-scope", scope)
	c.w.Header().Set("x-ms-throttle-information", info)
	c.error(http.StatusTooManyRequests, "TooManyRequests", "Too many requests. Please retry after "+retryAfter+" seconds.")
}

func (s *API) allowed(c *gctx) bool {
	a := c.route.access
	if a.anyToken {
		return true
	}
	for _, alt := range a.alternatives {
		ok := true
		for _, role := range alt {
			if !c.claims.has(role) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	if a.ownedBy != "" && c.claims.has("Application.ReadWrite.OwnedBy") {
		id := c.params[a.ownedBy]
		if appID := c.params["appId"]; id == "" && appID != "" {
			s.store.Mu.RLock()
			id = s.store.SPsByAppID[strings.ToLower(appID)]
			s.store.Mu.RUnlock()
		}
		return s.owns(c.claims.AppID, id)
	}
	return false
}

// owns reports whether the client appID owns the application or service principal with object id id.
func (s *API) owns(appID, id string) bool {
	s.store.Mu.RLock()
	defer s.store.Mu.RUnlock()
	if a, ok := s.store.Apps[id]; ok {
		return slices.Contains(a.Owners, appID)
	}
	if sp, ok := s.store.SPs[id]; ok {
		return slices.Contains(sp.Owners, appID)
	}
	if a, ok := s.store.Deleted[id]; ok {
		return slices.Contains(a.Owners, appID)
	}
	// An unknown object: let the handler answer 404 rather than hide it behind 403.
	return true
}

// readBody reads the request body, inflating it when the client gzipped it (msgraph-sdk-go does).
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	var rd io.Reader = r.Body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		defer func() { _ = zr.Close() }()
		rd = zr
	}
	return io.ReadAll(io.LimitReader(rd, 16<<20))
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (to cut it, see resetConnection).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// MaxBatchRequests is Graph's limit of requests in one $batch.
const MaxBatchRequests = 20

type batchItem struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    any               `json:"body,omitempty"`
}

// serveBatch runs a JSON $batch: at most 20 requests, unique ids, relative urls; items run in
// dependency order, and an item whose dependency failed answers 424.
func (s *API) serveBatch(w http.ResponseWriter, r *http.Request, claims *Caller, body []byte) {
	var req struct {
		Requests []batchItem `json:"requests"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		WriteError(w, r, http.StatusBadRequest, "BadRequest", "Invalid batch payload format.")
		return
	}
	if len(req.Requests) == 0 {
		WriteError(w, r, http.StatusBadRequest, "BadRequest", "Invalid batch payload format.")
		return
	}
	if len(req.Requests) > MaxBatchRequests {
		WriteError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Number of batch request steps exceeds the maximum of %d.", MaxBatchRequests))
		return
	}
	byID := map[string]*batchItem{}
	for i := range req.Requests {
		it := &req.Requests[i]
		if it.ID == "" || it.Method == "" || it.URL == "" {
			WriteError(w, r, http.StatusBadRequest, "BadRequest", "Batch request step is missing id, method or url.")
			return
		}
		if _, dup := byID[it.ID]; dup {
			WriteError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Batch request contains duplicate id '%s'.", it.ID))
			return
		}
		if strings.HasPrefix(it.URL, "http://") || strings.HasPrefix(it.URL, "https://") {
			WriteError(w, r, http.StatusBadRequest, "BadRequest", "Batch request step url must be relative: "+it.URL)
			return
		}
		// Graph parses every step before running any; a url that is not a valid relative URI (a raw
		// space, say) or a step with a body but no Content-Type fails the whole batch. Whether Graph
		// fails the batch or only the step is not documented: failing the batch is the stricter guess.
		if _, err := url.ParseRequestURI("/" + strings.TrimPrefix(it.URL, "/")); err != nil || strings.ContainsAny(it.URL, " \t\r\n") {
			WriteError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid request URI in batch request step '%s'.", it.ID))
			return
		}
		if len(it.Body) > 0 && string(it.Body) != "null" && headerValue(it.Headers, "Content-Type") == "" {
			WriteError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Write request id : %s does not contain Content-Type header or body.", it.ID))
			return
		}
		byID[it.ID] = it
	}
	for _, it := range req.Requests {
		for _, d := range it.DependsOn {
			if _, ok := byID[d]; !ok {
				WriteError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Batch request step '%s' depends on unknown id '%s'.", it.ID, d))
				return
			}
		}
	}
	results := map[string]*batchResponse{}
	var order []string
	var run func(id string, visiting map[string]bool) *batchResponse
	run = func(id string, visiting map[string]bool) *batchResponse {
		if res, ok := results[id]; ok {
			return res
		}
		it := byID[id]
		if visiting[id] {
			res := &batchResponse{ID: id, Status: http.StatusBadRequest, Headers: map[string]string{"Content-Type": "application/json"},
				Body: errorBody("BadRequest", "Batch request steps have a circular dependency.")}
			results[id] = res
			return res
		}
		visiting[id] = true
		for _, d := range it.DependsOn {
			if dep := run(d, visiting); dep.Status >= 400 {
				res := &batchResponse{ID: id, Status: http.StatusFailedDependency, Headers: map[string]string{"Content-Type": "application/json"},
					Body: errorBody("FailedDependency", "Dependent request "+d+" failed.")}
				results[id] = res
				order = append(order, id)
				s.stats.record("", claims.AppID, res.Status, false)
				return res
			}
		}
		res := s.runBatchItem(r, claims, it)
		results[id] = res
		order = append(order, id)
		return res
	}
	todo := req.Requests
	// Guess: how much of a $batch Graph has carried out when the connection drops is not known;
	// the first half, in order, stands for "some of it".
	cut := s.faults.resetsBatch()
	if cut {
		todo = todo[:len(todo)/2]
	}
	for _, it := range todo {
		run(it.ID, map[string]bool{})
	}
	if cut && resetConnection(w) {
		s.logf("sandbox: $batch of %d requests cut off after %d of them ran", len(req.Requests), len(results))
		return
	}
	for _, it := range req.Requests[len(todo):] {
		run(it.ID, map[string]bool{})
	}
	out := make([]*batchResponse, 0, len(order))
	throttled := false
	for _, id := range order {
		out = append(out, results[id])
		throttled = throttled || results[id].Status == http.StatusTooManyRequests
	}
	status := http.StatusOK
	if throttled && s.faults.get().BatchThrottled424 {
		status = http.StatusFailedDependency
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"responses": out})
}

func errorBody(code, message string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": message,
		"innerError": map[string]any{"date": directory.GraphTime(time.Now()), "request-id": uuid.NewString(), "client-request-id": uuid.NewString()}}}
}

func (s *API) runBatchItem(outer *http.Request, claims *Caller, it *batchItem) *batchResponse {
	u := it.URL
	if !strings.HasPrefix(u, "/") {
		u = "/" + u
	}
	var body []byte
	if len(it.Body) > 0 && string(it.Body) != "null" {
		body = it.Body
	}
	req := httptest.NewRequest(strings.ToUpper(it.Method), "https://"+outer.Host+"/v1.0"+u, bytes.NewReader(body))
	req.Host = outer.Host
	for k, v := range it.Headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	rec.Header().Set("request-id", uuid.NewString())
	path := req.URL.Path[len("/v1.0"):]
	key := s.serveGraphRequest(rec, req, claims, nil, path, body)
	s.stats.record(key, claims.AppID, rec.Code, false)
	res := &batchResponse{ID: it.ID, Status: rec.Code, Headers: map[string]string{}}
	for k, v := range rec.Header() {
		if len(v) > 0 && k != "Request-Id" {
			res.Headers[k] = v[0]
		}
	}
	if b := bytes.TrimSpace(rec.Body.Bytes()); len(b) > 0 {
		var v any
		if json.Unmarshal(b, &v) == nil {
			res.Body = v
		} else {
			res.Body = string(b)
		}
	}
	return res
}

func (s *API) newGraphRouter() *graphRouter {
	g := &graphRouter{s: s}
	s.registerAppRoutes(g)
	s.registerDirectoryRoutes(g)
	s.registerProvisioningRoutes(g)
	s.registerAuditLogRoutes(g)
	return g
}

// headerValue reads a batch step's header case-insensitively, as HTTP headers are.
func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
