// attnjit._attnjit.tune / best: the tune layer (tune_layer.h) with Python values at the edge.
#include <nanobind/nanobind.h>
#include <nanobind/stl/function.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "db/db_error.h"
#include "py_runtime.h"
#include "tune_layer.h"

namespace nb = nanobind;

namespace attnjit::python {
namespace {

nb::dict event_dict(const TuneEvent& e) {
  nb::dict d;
  d["kind"] = e.kind;
  d["problem"] = e.problem;
  d["index"] = e.index;
  d["count"] = e.count;
  d["phase"] = e.phase;
  d["config"] = e.config;
  d["status"] = e.status;
  d["done"] = e.done;
  d["total"] = e.total;
  d["median_ms"] = e.median_ms;
  d["best_ms"] = e.best_ms;
  return d;
}

nb::dict report_dict(const ProblemReport& r) {
  nb::dict d;
  d["problem"] = r.problem;
  d["template"] = r.template_name;
  d["default_config"] = r.default_config;
  d["best"] = r.best ? nb::cast(*r.best) : nb::none();
  d["best_ms"] = r.best_ms;
  d["default_ms"] = r.default_ms;
  d["speedup"] = r.speedup;
  d["seconds"] = r.seconds;
  d["error"] = r.error;
  nb::list cands;
  for (const CandidateRow& c : r.candidates) {
    nb::dict x;
    x["config"] = c.config;
    x["status"] = c.status;
    x["reason"] = c.reason;
    x["median_ms"] = c.median_ms;
    x["iqr_ms"] = c.iqr_ms;
    x["tflops"] = c.tflops;
    x["gbps"] = c.gbps;
    x["from_db"] = c.from_db;
    cands.append(x);
  }
  d["candidates"] = cands;
  return d;
}

}  // namespace

void bind_tune(nb::module_& m) {
  nb::exception<DbError>(m, "DatabaseError", PyExc_RuntimeError);
  m.def(
      "tune",
      [](const std::vector<std::string>& problems, const std::string& db, const std::string& backend,
         const std::string& strategy, const std::string& budget, double measure_seconds, uint64_t seed, int threads,
         nb::callable on_event) {
        TuneRequest req{problems, db, backend, strategy, budget, measure_seconds, seed, threads, {}};
        // An exception in on_event, or a signal (Ctrl-C), stops the run at the next candidate
        // and is raised once the tuner has returned (it must not unwind through the tuner).
        bool failed = false;
        req.should_stop = [&] {
          nb::gil_scoped_acquire locked;
          if (!failed && PyErr_CheckSignals() != 0) failed = true;
          return failed;
        };
        std::vector<ProblemReport> reports;
        {
          nb::gil_scoped_release unlocked;
          reports = tune(req, [&](const TuneEvent& e) {
            nb::gil_scoped_acquire locked;
            if (failed) return;
            try {
              on_event(event_dict(e));
            } catch (nb::python_error& err) {
              err.restore();
              failed = true;
            }
          });
        }
        if (failed) throw nb::python_error();
        nb::list out;
        for (const ProblemReport& r : reports) out.append(report_dict(r));
        return out;
      },
      nb::arg("problems"), nb::arg("db"), nb::arg("backend"), nb::arg("strategy"), nb::arg("budget"),
      nb::arg("measure_seconds"), nb::arg("seed"), nb::arg("threads"), nb::arg("on_event"),
      "Tune problem keys into a database; calls on_event(dict) for every progress event and returns\n"
      "one dict per problem (best config, default and best medians, every candidate's fate).");
  m.def(
      "best",
      [](const std::string& problem, const std::string& db, PyRuntime& rt) {
        BestAnswer a;
        {
          nb::gil_scoped_release unlocked;
          a = best(problem, db, rt.rt->backend());
        }
        nb::dict d;
        d["problem"] = a.problem;
        d["config"] = a.config;
        d["source"] = a.source;
        d["explanation"] = a.explanation;
        d["median_ms"] = a.median_ms ? nb::cast(*a.median_ms) : nb::none();
        return d;
      },
      nb::arg("problem"), nb::arg("db"), nb::arg("runtime"),
      "The config a runtime like `runtime` would run for `problem` with `db` as its config provider.");
}

}  // namespace attnjit::python
