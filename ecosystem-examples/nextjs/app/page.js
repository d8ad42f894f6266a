import { headers } from 'next/headers';
import logo from './logo.svg';

// Rendered per request, so each answer shows which nodeedge worker served it and the
// headers the proxy added.
export const dynamic = 'force-dynamic';

export default async function Home() {
  const h = await headers();
  return (
    <>
      <img src={logo.src} width={logo.width} height={logo.height} alt="nodeedge logo" />
      <h1>Hello from Next.js behind nodeedge</h1>
      <p id="instance">instance {process.env.NODE_APP_INSTANCE ?? '-'}</p>
      <p id="request-id">request id {h.get('x-request-id') ?? '-'}</p>
      <p id="client">client {h.get('x-forwarded-for') ?? '-'}</p>
    </>
  );
}
