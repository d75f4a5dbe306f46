// Remote death watch, the watched side.
//
// When a node makes a proxy for one of our actors it sends a `watch` frame;
// the daemon watches the actor locally and, when it stops, sends
// `terminated` back, which stops the proxy over there (and so notifies
// whoever watches the proxy). An actor that does not exist is reported at
// once. Watches of a connection that is lost are dropped: the other side
// stops all its proxies of us anyway.
//
// The daemon is an actor, so its table needs no lock; the loop thread only
// tells it what the frames say.
#include "node_core.hpp"

#include <algorithm>

namespace volley::remote::detail {

void watch_daemon::on(watch_request&& w, context& ctx) {
  auto core = core_.lock();
  if (!core) return;
  any_ref target = core->actor_system().select(w.target);
  if (!target || target.is_stopped()) {
    send_terminated(w.conn, w.watcher, w.target);
    return;
  }
  auto [it, fresh] = by_cell_.try_emplace(target.cell());
  watched& entry = it->second;
  if (fresh) {
    entry.ref = target;
    entry.path = std::move(w.target);
    ctx.watch(target);
  }
  auto who = std::make_pair(w.conn, std::move(w.watcher));
  if (std::find(entry.watchers.begin(), entry.watchers.end(), who) == entry.watchers.end()) {
    entry.watchers.push_back(std::move(who));
  }
}

void watch_daemon::on(unwatch_request&& w, context& ctx) {
  for (auto it = by_cell_.begin(); it != by_cell_.end(); ++it) {
    if (it->second.path != w.target) continue;
    auto& ws = it->second.watchers;
    ws.erase(std::remove(ws.begin(), ws.end(), std::make_pair(w.conn, w.watcher)), ws.end());
    if (ws.empty()) {
      ctx.unwatch(it->second.ref);
      by_cell_.erase(it);
    }
    return;
  }
}

void watch_daemon::on(connection_lost&& l, context& ctx) {
  for (auto it = by_cell_.begin(); it != by_cell_.end();) {
    auto& ws = it->second.watchers;
    ws.erase(std::remove_if(ws.begin(), ws.end(), [&](const auto& w) { return w.first == l.conn; }),
             ws.end());
    if (ws.empty()) {
      ctx.unwatch(it->second.ref);
      it = by_cell_.erase(it);
    } else {
      ++it;
    }
  }
}

void watch_daemon::on(terminated&& t, context&) {
  auto it = by_cell_.find(t.actor.cell());
  if (it == by_cell_.end()) return;
  for (const auto& [conn, watcher] : it->second.watchers)
    send_terminated(conn, watcher, it->second.path);
  by_cell_.erase(it);
}

void watch_daemon::send_terminated(connection_id conn, const std::string& watcher,
                                   const std::string& path) {
  auto core = core_.lock();
  if (!core) return;
  frame f;
  f.kind = frame_kind::terminated;
  f.target_path = watcher;
  f.sender_path = path;
  core->send(conn, f);  // a lost connection has lost its proxies already
}

}  // namespace volley::remote::detail
