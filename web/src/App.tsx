import { useCallback, useEffect, useState } from "react";
import { Home } from "./components/Home";
import { PreJoin, type JoinChoice } from "./components/PreJoin";
import { VideoCallPage } from "./components/VideoCallPage";
import { roomPath, takeRoute, type Route } from "./lib/route";

function currentRoute(): Route {
  return takeRoute();
}

export function App() {
  const [route, setRoute] = useState<Route>(currentRoute);
  useEffect(() => {
    const onPop = () => setRoute(currentRoute());
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  const navigate = useCallback((path: string) => {
    window.history.pushState(null, "", path);
    setRoute(currentRoute());
  }, []);

  if (route.page === "home") return <Home onEnter={(roomId) => navigate(roomPath(roomId))} />;
  return <RoomPage key={route.roomId} roomId={route.roomId} linkToken={route.token} onHome={() => navigate("/")} />;
}

function RoomPage({ roomId, linkToken, onHome }: { roomId: string; linkToken: string | null; onHome: () => void }) {
  const [choice, setChoice] = useState<JoinChoice | null>(null);
  const [connectError, setConnectError] = useState<string | null>(null);
  const [leftCall, setLeftCall] = useState(false);
  useEffect(() => {
    document.title = `${roomId} · Study call`;
  }, [roomId]);

  if (choice) {
    return (
      <VideoCallPage
        roomId={roomId}
        choice={choice}
        onLeave={() => {
          setChoice(null);
          setLeftCall(true);
        }}
        onConnectError={(message) => {
          setConnectError(message);
          setChoice(null);
        }}
      />
    );
  }
  return (
    <PreJoin
      roomId={roomId}
      linkToken={linkToken}
      connectError={connectError}
      notice={leftCall ? "You left the call." : null}
      onJoin={(c) => {
        setConnectError(null);
        setLeftCall(false);
        setChoice(c);
      }}
      onHome={onHome}
    />
  );
}
