import { ClerkProvider, UserButton } from '@clerk/nextjs';
import Link from 'next/link';

export const metadata = { title: 'Frontdoor + Next.js' };

export default function RootLayout({ children }) {
  return (
    <ClerkProvider>
      <html lang="en">
        <body>
          <header style={{ display: 'flex', gap: 16, alignItems: 'center' }}>
            <Link href="/">Home</Link>
            <Link href="/protected">Protected</Link>
            <Link href="/user-profile">Profile</Link>
            <UserButton />
          </header>
          <main>{children}</main>
        </body>
      </html>
    </ClerkProvider>
  );
}
