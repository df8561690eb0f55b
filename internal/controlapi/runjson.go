package controlapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/db9/db9/internal/control/functions"
	"github.com/db9/db9/internal/web"
)

// The run object is the answer of every invoke: it is written by hand, the
// bytes encoding/json.Marshal(runObject(r)) writes (runjson_test.go checks),
// without reflection or the copies of runObject.

// appendRun appends r as its run object. ok is false (dst unchanged) when
// Marshal would fail: a time it cannot encode.
func appendRun(dst []byte, r functions.Run) (_ []byte, ok bool) {
	n0 := len(dst)
	dst = append(dst, `{"id":`...)
	dst = web.AppendJSONString(dst, r.ID, true)
	dst = append(dst, `,"function_id":`...)
	dst = web.AppendJSONString(dst, r.FunctionID, true)
	dst = append(dst, `,"version_id":`...)
	dst = web.AppendJSONString(dst, r.VersionID, true)
	dst = append(dst, `,"status":`...)
	dst = web.AppendJSONString(dst, r.Status, true)
	dst = append(dst, `,"trigger_type":`...)
	dst = web.AppendJSONString(dst, r.TriggerType, true)
	dst = append(dst, `,"input_json":`...)
	dst = appendOptString(dst, r.InputJSON)
	dst = append(dst, `,"result_json":`...)
	dst = appendOptString(dst, r.ResultJSON)
	dst = append(dst, `,"error":`...)
	dst = appendOptString(dst, r.Error)
	dst = append(dst, `,"duration_ms":`...)
	if r.DurationMS == nil {
		dst = append(dst, "null"...)
	} else {
		dst = strconv.AppendInt(dst, *r.DurationMS, 10)
	}
	dst = append(dst, `,"started_at":`...)
	if dst, ok = appendOptTime(dst, r.StartedAt); !ok {
		return dst[:n0], false
	}
	dst = append(dst, `,"finished_at":`...)
	if dst, ok = appendOptTime(dst, r.FinishedAt); !ok {
		return dst[:n0], false
	}
	return append(dst, '}'), true
}

func appendOptString(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	return web.AppendJSONString(dst, *s, true)
}

// appendOptTime writes t in UTC, as utcPtr does for the reflective objects.
func appendOptTime(dst []byte, t *time.Time) ([]byte, bool) {
	if t == nil {
		return append(dst, "null"...), true
	}
	return web.AppendJSONTime(dst, t.UTC())
}

// writeRun answers 200 with run's object.
func writeRun(w http.ResponseWriter, run functions.Run) {
	bp := bodyBufs.Get().(*[]byte)
	b, ok := appendRun((*bp)[:0], run)
	if !ok {
		// What Marshal refuses gets Marshal's answer (a 500).
		web.WriteJSON(w, http.StatusOK, runObject(run))
		return
	}
	writePooled(w, bp, append(b, '\n'))
}

// writeRuns answers 200 with the objects of runs, a JSON array.
func writeRuns(w http.ResponseWriter, runs []functions.Run) {
	bp := bodyBufs.Get().(*[]byte)
	b := append((*bp)[:0], '[')
	for i, run := range runs {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = appendRun(b, run); !ok {
			web.WriteJSON(w, http.StatusOK, mapAll(runs, runObject))
			return
		}
	}
	writePooled(w, bp, append(b, ']', '\n'))
}

// writePooled writes body, which grew from the pooled buffer *bp, as a
// 200 response and gives the buffer back (see bodyBufs).
func writePooled(w http.ResponseWriter, bp *[]byte, body []byte) {
	web.WriteJSONBody(w, http.StatusOK, body)
	if cap(body) <= maxPooledBody {
		*bp = body
		bodyBufs.Put(bp)
	}
}
