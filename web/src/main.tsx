// The Partisci dashboard: picks the page for the URL. Each page loads its
// data from the API and keeps it current from the change feed.

import { render } from 'preact';
import { AppPage } from './pages/app';
import { HostPage } from './pages/host';
import { Overview } from './pages/overview';
import { SqlPage } from './pages/sql';
import { interceptLinks, useRoute } from './router';
import { Header } from './ui/header';
import './style.css';

function Dashboard() {
  const route = useRoute();
  switch (route.page) {
    case 'overview':
      return <Overview />;
    case 'app':
      // Keyed: another app is a fresh page, not a re-render of this one.
      return <AppPage key={route.appId} appId={route.appId} filter={{ ver: route.ver, status: route.status, labels: route.labels }} />;
    case 'sql':
      return <SqlPage q={route.q} />;
    case 'host':
      return <HostPage key={route.host} host={route.host} />;
    case 'missing':
      return (
        <>
          <Header />
          <main>
            <h1>Nothing at {route.path}</h1>
            <p>
              <a href="/">Back to the fleet</a>
            </p>
          </main>
        </>
      );
  }
}

interceptLinks();
render(<Dashboard />, document.getElementById('root')!);
