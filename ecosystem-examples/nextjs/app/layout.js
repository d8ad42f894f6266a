import './globals.css';

export const metadata = {
  title: 'nodeedge + Next.js',
  description: 'Pages from the Next server, /_next/static/ from disk by nodeedge',
};

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>
        <nav>
          <a href="/">Home</a> · <a href="/about">About</a>
        </nav>
        <main>{children}</main>
      </body>
    </html>
  );
}
